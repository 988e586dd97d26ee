"""Reduction previews as the scan table asks for them (the rules page's pipeline view): a rule's
pipeline on one scan the caller may read, with changed parameters, answered by a reduction
worker through its cache (``scireduce._preview``). The request and its answer are one document
of the store (:class:`scizoo.core.PreviewDocument`): the scan table may not import scireduce.

Bounded: a person has at most one preview waiting (a new one replaces it, as a person changing
a parameter again wants the newest), and previews expire (the store's TTL index).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pymongo.collection import Collection

from scizoo.core import (
    ACTIVE_RULES_ID,
    ORIG_DATABLOCK_COLLECTION,
    PIPELINE_COLLECTION,
    PREVIEW_COLLECTION,
    PREVIEW_STALE_S,
    REDUCTION_RULES_COLLECTION,
    PipelineDescription,
    PreviewState,
    ReductionRule,
    ReductionRuleSet,
    merged_params,
    new_preview,
    pipeline_problems,
)
from scizoo.web import TokenUser

from ._errors import Invalid, NotFound
from ._table import jsonable

if TYPE_CHECKING:
    from ._catalogue import Catalogue
    from ._ports import Scans

Doc = dict[str, Any]
#: The most files of a scan looked at for the file a rule reduces.
MAX_FILES = 10_000


class Previews:
    """Previews asked for and read by the people who asked (readers of the scan)."""

    def __init__(self, store: Scans, catalogue: Catalogue) -> None:
        self._store, self._catalogue = store, catalogue

    def _previews(self) -> Collection[Doc]:
        return self._catalogue.collection(PREVIEW_COLLECTION)

    def _rule(self, name: str) -> ReductionRule:
        doc = self._catalogue.collection(REDUCTION_RULES_COLLECTION).find_one({"_id": ACTIVE_RULES_ID}) or {}
        try:
            rules = ReductionRuleSet.model_validate({"rules": doc.get("rules", [])})
        except ValidationError as err:
            raise Invalid(f"the reduction rules in use cannot be read ({err.error_count()} problems)") from err
        rule = next((r for r in rules.rules if r.name == name), None)
        if rule is None:
            raise Invalid(f"no rule {name!r} in use; the rules are: {', '.join(r.name for r in rules.rules) or 'none'}",
                          [{"field": "rule", "message": "no such rule in use"}])
        return rule

    def _described(self, name: str) -> dict[str, PipelineDescription]:
        """The workers' description of the pipeline (a module path is not described: the worker checks)."""
        if ":" in name:
            return {}
        doc = self._catalogue.collection(PIPELINE_COLLECTION).find_one({"_id": name})
        try:
            described = None if doc is None else PipelineDescription.model_validate(doc)
        except ValidationError:
            described = None
        if described is None:
            raise Invalid(f"no reduction worker has described pipeline {name!r} (readably): no preview")
        return {name: described}

    def _files(self, pid: str) -> list[str]:
        found: list[str] = []
        for block in self._catalogue.collection(ORIG_DATABLOCK_COLLECTION).find({"datasetId": pid}).limit(100):
            found += [f["path"] for f in block.get("dataFileList", []) if isinstance(f, dict) and "path" in f]
        return found[:MAX_FILES]

    def request(self, user: TokenUser, pid: str, rule_name: str, params: dict[str, dict[str, Any]],
                now: datetime) -> Doc:
        """Ask for a preview of ``rule_name`` on scan ``pid`` with ``params`` over the rule's own.
        404 for a scan the user may not read (as for one that does not exist); 422 when the rule
        does not apply to it or the workers' pipeline does not take the parameters."""
        dataset = self._store.readable(pid, user)
        rule = self._rule(rule_name)
        if rule.group is not None:
            raise Invalid(f"rule {rule.name!r} reduces groups of scans: a preview is of a rule that reduces one scan")
        if rule.input_file(dataset, self._files(pid)) is None:
            raise Invalid(f"rule {rule.name!r} does not apply to scan {pid!r} (beamline, format, files, conditions "
                          "or status)", [{"field": "pid", "message": "the rule does not apply to this scan"}])
        merged = merged_params(rule.params, params)
        problems = pipeline_problems([rule.model_copy(update={"params": merged})], self._described(rule.pipeline))
        if problems:
            raise Invalid("; ".join(p["message"] for p in problems[:5]),
                          [{"field": p["field"].replace("rules.0.", "", 1), "message": p["message"]} for p in problems])
        previews = self._previews()
        # One waiting per person: the newest asked for replaces the one not taken yet.
        previews.update_many({"requestedBy": user.user, "state": PreviewState.QUEUED},
                             {"$set": {"state": PreviewState.SUPERSEDED}})
        preview = new_preview(str(uuid.uuid4()), pid, rule.name, rule.pipeline, merged, requested_by=user.user,
                              now=now)
        previews.insert_one(preview.to_mongo())
        return self._view(preview.to_mongo())

    def get(self, preview_id: str, user: TokenUser, now: datetime | None = None) -> Doc:
        """A preview the user asked for, of a scan they still may read (else 404, the same).

        One "running" for :data:`PREVIEW_STALE_S` lost its worker (a worker stops its own at
        :data:`scizoo.core.PREVIEW_TIMEOUT_S`): it is failed here, saying so, rather than shown "running"
        until it expires an hour later. A conditional write: a worker that settles it meanwhile wins."""
        missing = NotFound(f"no reduction preview {preview_id!r} of yours")
        previews = self._previews()
        doc = previews.find_one({"_id": preview_id, "requestedBy": user.user})
        if doc is None:
            raise missing
        try:
            self._store.readable(str(doc["datasetId"]), user)
        except NotFound:
            raise missing from None
        now = now or datetime.now(UTC)
        started = doc.get("startedAt")
        if doc.get("state") == PreviewState.RUNNING and started and now - started > timedelta(seconds=PREVIEW_STALE_S):
            lost = {"state": PreviewState.FAILED, "endedAt": now,
                    "error": f"its reduction worker ({doc.get('worker')}) stopped answering: ask for it again"}
            previews.update_one({"_id": doc["_id"], "state": PreviewState.RUNNING, "startedAt": started},
                                {"$set": lost})
            doc = previews.find_one({"_id": preview_id}) or doc
        return self._view(doc)

    @staticmethod
    def _view(doc: Doc) -> Doc:
        keys = ("state", "datasetId", "rule", "pipeline", "params", "createdAt", "startedAt", "endedAt", "steps",
                "executed", "result", "error")
        view: Doc = jsonable({"id": doc["_id"], **{k: doc.get(k) for k in keys}})
        return view

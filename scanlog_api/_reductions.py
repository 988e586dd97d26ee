"""The scan table's side of the reductions: each scan's jobs, the jobs list, reruns and
cancels asked for by the scan's writers, and the rules (kept, with their history, by
``_rules_history``).

The workers (scireduce) run the jobs; what is shared with them (the job document, its
states and transitions, rerun names, the rule model) is in the core. Access is the store's
(``readable`` and ``writable`` of :class:`~scanlog_api._store.ScanStore`); the jobs and
rules are read on the connection the stores share (:class:`~scanlog_api._catalogue.Catalogue`).
"""

from __future__ import annotations

import itertools
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from scizoo.core import (
    JOB_COLLECTION,
    JobDocument,
    JobState,
    NotCancellable,
    ReductionRuleSet,
    base_rule,
    cancel,
    expected,
    rerun_pattern,
    rerun_request,
)
from scizoo.web import TokenUser

from ._errors import Conflict, Invalid, NotFound
from ._rules_history import RuleRevisions
from ._table import jsonable

if TYPE_CHECKING:
    from ._catalogue import Catalogue
    from ._store import ScanStore

logger = logging.getLogger(__name__)

Doc = dict[str, Any]
#: Reruns of one scan that may wait for a worker at once (bounded work a writer can queue).
MAX_WAITING_RERUNS = 3
#: A jobs list looks at this many jobs at most (newest first): bounded work per request.
MAX_JOBS_SCAN = 20_000


def _job_view(stored: Doc, readable_derived: set[Any]) -> Doc:
    """A job as the table shows it: its derived dataset only if the user may read that too.

    Read with the core's tolerant read (a rerun request stored before the one shape included);
    a document that is no job (written around scizoo) is shown as that, with the reason."""
    try:
        job = JobDocument.from_stored(stored)
    except ValidationError as err:
        logger.error("reduction job %r is not readable: %s", stored.get("_id"), err)
        unreadable: Doc = jsonable({"id": stored.get("_id"), "rule": stored.get("rule"), "pipeline": None,
                                    "state": str(stored.get("state")), "params": None, "requestedBy": None,
                                    "attempt": None, "startedAt": None, "endedAt": None,
                                    "log": f"not a reduction job scizoo can read: {err}"[-2000:], "derived": None})
        return unreadable
    view: Doc = jsonable({
        "id": job.id, "rule": job.rule, "pipeline": job.pipeline, "state": job.state, "params": job.params,
        "requestedBy": job.requestedBy, "attempt": job.attempt, "startedAt": job.startedAt, "endedAt": job.endedAt,
        "log": (job.log or "")[-2000:], "derived": job.derived if job.derived in readable_derived else None,
        # A group reduction: how many scans it reduced together (shown on each of them).
        "inputs": len(job.inputIds) if job.inputIds else None})
    return view


class Reductions:
    """Reduction jobs and rules as the scan table reads and changes them."""

    def __init__(self, store: ScanStore, catalogue: Catalogue | None = None, *,
                 rule_staff_groups: dict[str, str] | None = None) -> None:
        """Access through ``store`` (its rule: who may read, who may change); the jobs and rules
        in ``catalogue``, the connection the stores share (the store's own when not given);
        ``rule_staff_groups``: beamline -> the staff group that changes its rules."""
        self._store = store
        self._catalogue = catalogue or store.catalogue
        self.rule_revisions = RuleRevisions(self._catalogue, store, rule_staff_groups)

    def _jobs(self) -> Collection[Doc]:
        return self._catalogue.collection(JOB_COLLECTION)

    def of_scans(self, pids: list[str], user: TokenUser | None) -> dict[str, list[Doc]]:
        """Each scan's reduction jobs (rule, state, attempt, times, log tail) and the derived
        datasets they made that the user may read; for scans the caller already may read."""
        if not pids:
            return {}
        out: dict[str, list[Doc]] = {pid: [] for pid in pids}
        # A group reduction's job is each of its scans' (inputIds), as well as its newest's.
        query = {"$or": [{"datasetId": {"$in": pids}}, {"inputIds": {"$in": pids}}]}
        jobs = list(self._jobs().find(query).sort("createdAt", ASCENDING))
        # By the derived datasets' _id (indexed), not by scanning for inputDatasets (no index).
        derived = self._store.readable_ids([j["derived"] for j in jobs if j.get("derived")], user)
        for job in jobs:
            view = _job_view(job, derived)
            for pid in dict.fromkeys([job["datasetId"], *(job.get("inputIds") or [])]):
                if pid in out:
                    out[pid].append(view)
        return out

    def jobs(self, user: TokenUser | None, state: str | None, limit: int) -> list[Doc]:
        """The newest reduction jobs (of one state, or all) of scans the user may read.

        Bounded work: jobs are read newest first in chunks, each chunk's scans checked in
        one query, until ``limit`` are found or :data:`MAX_JOBS_SCAN` were looked at.
        """
        query: Doc = {"state": state} if state else {}
        found: list[Doc] = []
        cursor = iter(self._jobs().find(query).sort("updatedAt", DESCENDING).limit(MAX_JOBS_SCAN))
        while len(found) < limit and (chunk := list(itertools.islice(cursor, 500))):
            readable = self._store.readable_ids(list({j["datasetId"] for j in chunk}), user)
            mine = [j for j in chunk if j["datasetId"] in readable]
            derived = self._store.readable_ids([j["derived"] for j in mine if j.get("derived")], user)
            found += [{**_job_view(j, derived), "datasetId": j["datasetId"]} for j in mine]
        return found[:limit]

    def request_rerun(self, pid: str, user: TokenUser, rule: str, params: dict[str, dict[str, Any]],
                      now: datetime) -> Doc:
        """Queue a rerun of a rule that has run on the dataset, for a worker to take; writers only."""
        self._store.writable(pid, user)
        jobs = self._jobs()
        if base_rule(rule) != rule:
            raise Invalid(f"{rule!r} is a rerun: run its rule {base_rule(rule)!r} again instead")
        ran = sorted({j["rule"] for j in jobs.find({"datasetId": pid}, {"rule": 1})
                      if isinstance(j.get("rule"), str) and base_rule(j["rule"]) == j["rule"]})
        if rule not in ran:
            raise Invalid(f"rule {rule!r} has not run on dataset {pid!r}; "
                          f"the rules that have: {', '.join(ran) or 'none'}")
        waiting = jobs.count_documents({"datasetId": pid, "state": JobState.QUEUED, "requestedBy": {"$exists": True}})
        if waiting >= MAX_WAITING_RERUNS:
            raise Conflict(f"{waiting} reruns of dataset {pid!r} are waiting already: let them run (or cancel one)")
        earlier = jobs.count_documents({"datasetId": pid, "rule": {"$regex": rerun_pattern(rule)}})
        for attempt in range(5):  # two requests at once, or a gap: the next number
            job = rerun_request(pid, rule, earlier + attempt, params, requested_by=user.user, now=now)
            try:
                jobs.insert_one(job.to_mongo())
            except DuplicateKeyError:
                continue
            queued: Doc = jsonable({"id": job.id, "rule": job.rule, "state": job.state, "params": job.params})
            return queued
        raise Conflict(f"too many reruns of {rule!r} asked for at once; try again")

    def cancel(self, job_id: str, user: TokenUser, now: datetime) -> Doc:
        """Cancel a queued or failed job of a dataset the user may change."""
        jobs = self._jobs()
        stored = jobs.find_one({"_id": job_id})
        missing = NotFound(f"no reduction job {job_id!r} of a scan you can read")
        if stored is None:
            raise missing
        try:
            self._store.readable(stored["datasetId"], user)
        except NotFound:
            raise missing from None  # the same answer: no telling which jobs exist on scans one cannot read
        self._store.writable(stored["datasetId"], user)
        for _ in range(5):  # a worker may take or settle it meanwhile: decided on what it is then
            job = JobDocument.from_stored(stored)
            try:
                changes = cancel(job, now)
            except NotCancellable as err:
                raise Conflict(str(err)) from None
            done = jobs.find_one_and_update({"_id": job_id, **expected(job)}, {"$set": changes},
                                            return_document=True)
            if done is not None:
                cancelled: Doc = jsonable({"id": done["_id"], "rule": done.get("rule"), "state": done["state"]})
                return cancelled
            stored = jobs.find_one({"_id": job_id})
            if stored is None:
                raise missing
        raise Conflict(f"job {job_id!r} changes too often to cancel now; try again")

    # --- the rules (their history and who may change them: ``_rules_history``) ----------

    def rules(self) -> Doc:
        """The rules the reduction workers use (revision 0 and none: no worker has started yet)."""
        return self.rule_revisions.current()

    def set_rules(self, user: TokenUser, revision: int, rules: ReductionRuleSet, now: datetime) -> Doc:
        """Replace the rules, from the revision the caller read (409 if another change came first)."""
        return self.rule_revisions.replace(user, revision, rules, now)

    def rule_rights(self, user: TokenUser) -> Doc:
        return self.rule_revisions.rights(user)

    def rule_history(self, limit: int) -> Doc:
        return self.rule_revisions.history(limit)

    def rule_revision(self, number: int) -> Doc:
        return self.rule_revisions.revision(number)

    def rule_diff(self, old: int, new: int) -> Doc:
        return self.rule_revisions.diff(old, new)

    def restore_rules(self, user: TokenUser, number: int, revision: int, now: datetime) -> Doc:
        return self.rule_revisions.restore(user, number, revision, now)

    def dry_run(self, user: TokenUser, rules: ReductionRuleSet) -> Doc:
        return self.rule_revisions.dry_run(user, rules)

    def pipelines(self) -> list[Doc]:
        return self.rule_revisions.pipelines()

"""The reduction rules as the scan table changes them: the set in use (one revisioned
document, which the workers follow), every revision kept (who, when, the rules), the diff
between two, a restore (a new revision with an old one's content), the dry run over the
caller's recent scans, and who may change what.

Who may: administrators change every rule; a beamline's staff (``rule_staff_groups``: a
beamline -> its staff group) change the rules of their beamlines, those whose beamline is
exactly one of theirs, before and after the change (a pattern such as ``*`` reaches other
beamlines: administrators only). Every signed-in user reads them.

The decisions are the core's, on plain data (:mod:`scizoo.core._rule_revisions`); this
module reads and writes them.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pymongo import DESCENDING
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from scizoo.core import (
    ACTIVE_RULES_ID,
    ORIG_DATABLOCK_COLLECTION,
    PIPELINE_COLLECTION,
    REDUCTION_RULE_REVISION_COLLECTION,
    REDUCTION_RULES_COLLECTION,
    PipelineDescription,
    ReductionRuleSet,
    diff_rules,
    diff_summary,
    dry_run,
    pipeline_problems,
    revision_document,
    touched_beamlines,
)
from scizoo.web import TokenUser

from ._access import build_branches
from ._errors import Conflict, Forbidden, Invalid, NotFound
from ._table import jsonable

if TYPE_CHECKING:
    from ._catalogue import Catalogue
    from ._ports import Scans

logger = logging.getLogger(__name__)

Doc = dict[str, Any]
#: The dry run looks at this many of the caller's newest scans.
DRY_RUN_SCANS = 200
#: A history page lists at most this many revisions.
MAX_HISTORY = 100
#: The most pipeline descriptions read (a facility has a handful).
MAX_PIPELINES = 200


def staff_beamlines(user: TokenUser, staff_groups: dict[str, str]) -> set[str]:
    """The beamlines whose staff the user is (by the groups their token carries)."""
    groups = set(user.groups)
    return {beamline for beamline, group in staff_groups.items() if group in groups}


def may_change(user: TokenUser, staff_groups: dict[str, str], old: ReductionRuleSet | None,
               new: ReductionRuleSet) -> None:
    """Raise :class:`Forbidden` unless the user may turn ``old`` into ``new`` (None: the rules in
    use cannot be read, so only an administrator may replace them)."""
    if user.admin:
        return
    mine = staff_beamlines(user, staff_groups)
    if not mine:
        raise Forbidden("only administrators and a beamline's staff change the reduction rules")
    if old is None:
        raise Forbidden("the reduction rules in use are not readable: only an administrator may replace them")
    outside = {name: beamlines - mine for name, beamlines in touched_beamlines(old, new).items()
               if not beamlines <= mine}
    if outside:
        reach = "; ".join(f"{name} (beamline {', '.join(sorted(b))})" for name, b in sorted(outside.items()))
        raise Forbidden(f"you change the rules of beamline {', '.join(sorted(mine))} only; this change touches "
                        f"rules of others: {reach}")


def unique_names(rules: ReductionRuleSet) -> list[dict[str, str]]:
    """A problem at the name of each rule whose name an earlier rule has (a job is named by its
    rule: two of one name would share their jobs)."""
    seen: set[str] = set()
    problems = []
    for i, rule in enumerate(rules.rules):
        if rule.name in seen:
            problems.append({"field": f"rules.{i}.name", "message": f"another rule is named {rule.name!r} already"})
        seen.add(rule.name)
    return problems


def refuse(problems: list[dict[str, str]]) -> None:
    """A 422 naming each problem's field (the page puts each beside its field)."""
    if problems:
        raise Invalid("; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
                      + (f"; and {len(problems) - 5} more" if len(problems) > 5 else ""), problems[:50])


def _rule_set(doc: Doc, what: str) -> ReductionRuleSet:
    try:
        return ReductionRuleSet.model_validate({"rules": doc.get("rules", [])})
    except ValidationError as err:
        raise Invalid(f"{what} is not a set of rules scizoo can read ({err.error_count()} problems)") from err


class RuleRevisions:
    """The rule set in use and its history, over the catalogue's connection."""

    def __init__(self, catalogue: Catalogue, store: Scans, staff_groups: dict[str, str] | None = None) -> None:
        self._catalogue = catalogue
        self._store = store
        self.staff_groups = dict(staff_groups or {})

    def _active(self) -> Collection[Doc]:
        return self._catalogue.collection(REDUCTION_RULES_COLLECTION)

    def _history(self) -> Collection[Doc]:
        return self._catalogue.collection(REDUCTION_RULE_REVISION_COLLECTION)

    def _pipelines(self) -> dict[str, PipelineDescription]:
        found = {}
        for doc in self._catalogue.collection(PIPELINE_COLLECTION).find().sort("_id", 1).limit(MAX_PIPELINES):
            try:
                described = PipelineDescription.model_validate(doc)
            except ValidationError as err:  # written around scizoo (or by a newer one): said, not used
                logger.error("pipeline description %r is not readable: %s", doc.get("_id"), err)
                continue
            found[described.name] = described
        return found

    def pipelines(self) -> list[Doc]:
        """The pipelines the workers have: steps, inputs, versions, parameters with types and defaults."""
        out: list[Doc] = jsonable([p.model_dump(mode="json", by_alias=False) for p in self._pipelines().values()])
        return out

    def check(self, rules: ReductionRuleSet) -> None:
        """A 422 naming the field of each problem the model cannot see: a name used twice, a
        pipeline, step or parameter the workers do not have."""
        refuse(unique_names(rules) + pipeline_problems(rules.rules, self._pipelines()))

    def current(self) -> Doc:
        """The rules the workers use (revision 0 and none: no worker has started yet)."""
        doc = self._active().find_one({"_id": ACTIVE_RULES_ID}) or {"revision": 0, "rules": []}
        out: Doc = jsonable({k: doc.get(k) for k in ("revision", "rules", "updatedBy", "updatedAt")})
        return out

    def rights(self, user: TokenUser) -> Doc:
        """What the user may change: every rule, or those of these beamlines (none: they read)."""
        return {"all": user.admin, "beamlines": sorted(staff_beamlines(user, self.staff_groups))}

    def _keep(self, doc: Doc) -> None:
        """Put a revision of the set in use in the history if it is not there: one the workers
        seeded or imported, or one whose history write was cut short (kept once, by its number)."""
        try:
            rules = ReductionRuleSet.model_validate({"rules": doc.get("rules", [])})
            kept = revision_document(int(doc["revision"]), rules, by=str(doc.get("updatedBy") or "unknown"),
                                     now=doc.get("updatedAt") or datetime.min, restored_from=doc.get("restoredFrom"))
            self._history().insert_one(kept.to_mongo())
        except DuplicateKeyError:
            pass  # kept already
        except (ValidationError, KeyError, TypeError, ValueError) as err:
            # Written around scizoo: the history cannot hold it as rules; said, and the set in use is untouched.
            logger.error("reduction rules revision %r cannot be kept in the history: %s", doc.get("revision"), err)

    def replace(self, user: TokenUser, revision: int, rules: ReductionRuleSet, now: datetime,
                restored_from: int | None = None) -> Doc:
        """Replace the rules, from the revision the caller read (409 if another change came
        first); the new revision is kept in the history."""
        self.check(rules)
        active = self._active()
        stored = active.find_one({"_id": ACTIVE_RULES_ID})
        stale = Conflict(f"the reduction rules are no longer at revision {revision}: read them again and "
                         "apply your change to what is there")
        if (stored or {}).get("revision", 0) != revision:
            raise stale
        old: ReductionRuleSet | None = ReductionRuleSet()
        if stored is not None:
            try:
                old = ReductionRuleSet.model_validate({"rules": stored.get("rules", [])})
            except ValidationError:
                old = None
        may_change(user, self.staff_groups, old, rules)
        if stored is not None:
            self._keep(stored)  # the revision replaced stays readable, whoever wrote it
        new = {"rules": rules.model_dump()["rules"], "updatedBy": user.user, "updatedAt": now,
               "restoredFrom": restored_from}
        if revision == 0:
            try:
                active.insert_one({"_id": ACTIVE_RULES_ID, "revision": 1, **new})
            except DuplicateKeyError:
                raise stale from None
        elif active.find_one_and_update({"_id": ACTIVE_RULES_ID, "revision": revision},
                                        {"$set": new, "$inc": {"revision": 1}}) is None:
            raise stale
        kept = revision_document(revision + 1, rules, by=user.user, now=now, restored_from=restored_from)
        # By its number: a document left by a change that lost the race above is replaced by the winner's.
        self._history().replace_one({"_id": revision + 1}, kept.to_mongo(), upsert=True)
        logger.info("reduction rules changed by %s (revision %d -> %d, %d rules%s)", user.user, revision,
                    revision + 1, len(rules.rules), f", restoring {restored_from}" if restored_from else "")
        return self.current()

    def _revision_doc(self, number: int) -> Doc:
        doc = self._history().find_one({"_id": number})
        if doc is None:
            active = self._active().find_one({"_id": ACTIVE_RULES_ID})
            if active is not None and active.get("revision") == number:
                return active
            raise NotFound(f"no revision {number} of the reduction rules")
        return doc

    def revision(self, number: int) -> Doc:
        """One revision whole: who, when, its rules."""
        doc = self._revision_doc(number)
        out: Doc = jsonable({k: doc.get(k) for k in ("revision", "rules", "updatedBy", "updatedAt", "restoredFrom")})
        return out

    def history(self, limit: int) -> Doc:
        """The newest revisions first: who, when, what changed from the one before (a line)."""
        limit = min(limit, MAX_HISTORY)
        docs = list(self._history().find().sort("_id", DESCENDING).limit(limit + 1))
        active = self._active().find_one({"_id": ACTIVE_RULES_ID})
        if active is not None and (not docs or docs[0]["_id"] < active["revision"]):
            docs.insert(0, {**active, "_id": active["revision"]})  # not kept yet (seeded, imported)
        out = []
        for i, doc in enumerate(docs[:limit]):
            before = docs[i + 1] if i + 1 < len(docs) else None
            try:
                if before is not None and before["_id"] != doc["_id"] - 1:
                    summary = "(the revision before is not kept)"
                else:
                    old = _rule_set(before, "") if before is not None else ReductionRuleSet()
                    summary = diff_summary(diff_rules(old, _rule_set(doc, "")))
            except Invalid:
                summary = "(not a set of rules scizoo can read)"
            out.append(jsonable({"revision": doc["_id"], "updatedBy": doc.get("updatedBy"),
                                 "updatedAt": doc.get("updatedAt"), "restoredFrom": doc.get("restoredFrom"),
                                 "rules": len(doc.get("rules") or []), "summary": summary}))
        return {"data": out, "count": len(out)}

    def diff(self, old: int, new: int) -> Doc:
        """What changed from revision ``old`` to revision ``new`` (either way round)."""
        before = _rule_set(self._revision_doc(old), f"revision {old}")
        after = _rule_set(self._revision_doc(new), f"revision {new}")
        change = diff_rules(before, after)
        return {"from": old, "to": new, "summary": diff_summary(change), **change}

    def restore(self, user: TokenUser, number: int, revision: int, now: datetime) -> Doc:
        """A new revision with revision ``number``'s rules, from the revision the caller read."""
        rules = _rule_set(self._revision_doc(number), f"revision {number}")
        return self.replace(user, revision, rules, now, restored_from=number)

    def dry_run(self, user: TokenUser, rules: ReductionRuleSet) -> Doc:
        """Which of the caller's newest scans (at most :data:`DRY_RUN_SCANS` they may read)
        these rules would reduce, each with the rule and file, and the count per rule."""
        self.check(rules)
        # The table's own page read: in time order it reads each large branch over the hours that
        # hold its newest scans (the tally), not a sort of everything the caller may read.
        scans = self._store.page(build_branches(user), "creationTime", "desc", 0, DRY_RUN_SCANS)
        files: dict[str, list[str]] = {}
        pids = [s["_id"] for s in scans]
        for block in self._catalogue.collection(ORIG_DATABLOCK_COLLECTION).find({"datasetId": {"$in": pids}}):
            files.setdefault(str(block["datasetId"]), []).extend(
                f["path"] for f in block.get("dataFileList", []) if isinstance(f, dict) and "path" in f)
        found = dry_run(rules, scans, files)
        per_rule = {r.name: sum(1 for f in found for m in f["matches"] if m["rule"] == r.name) for r in rules.rules}
        out: Doc = jsonable({"lookedAt": len(scans), "matched": len(found), "perRule": per_rule, "scans": found})
        return out

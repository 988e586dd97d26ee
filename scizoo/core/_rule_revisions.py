"""The history of the reduction rules, on plain data: a revision's document, what changed
between two revisions (rule by rule, field by field), and which recent scans a set of rules
would match (the dry run before saving).

Pure, so the scan table's API (which keeps the history) and scireduce (which seeds and imports
rule sets) write one shape and read one meaning; neither imports the other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from ._documents import _Written
from ._reduction import ReductionRule, ReductionRuleSet

Doc = dict[str, Any]


class RulesRevisionDocument(_Written):
    """One revision of the rule set, kept for ever in ``REDUCTION_RULE_REVISION_COLLECTION``
    (``_id`` is the revision number, so the list, newest first, is the ``_id`` index's)."""

    id: Annotated[int, Field(alias="_id", ge=1)]
    revision: Annotated[int, Field(ge=1)]
    rules: list[ReductionRule]
    updatedBy: str
    updatedAt: datetime
    #: The revision whose content this one restored (None: an edit, a seed or an import).
    restoredFrom: int | None = None


def revision_document(revision: int, rules: ReductionRuleSet, *, by: str, now: datetime,
                      restored_from: int | None = None) -> RulesRevisionDocument:
    """The history's document of ``revision`` (who made it, when, its rules)."""
    return RulesRevisionDocument(id=revision, revision=revision, rules=rules.rules, updatedBy=by, updatedAt=now,
                                 restoredFrom=restored_from)


def _flat(value: Any, prefix: str) -> Doc:
    """A rule's field as dotted leaves, so a change of one parameter reads as that parameter
    (``params.bin.bins``), not as the whole ``params`` replaced. Lists stay whole: a list's
    entries have no names (``when``'s conditions are compared as the list they are)."""
    if isinstance(value, dict) and value:
        out: Doc = {}
        for key, inner in value.items():
            out.update(_flat(inner, f"{prefix}.{key}"))
        return out
    return {prefix: value}


def _fields(rule: ReductionRule) -> Doc:
    dumped = rule.model_dump(mode="json")
    out: Doc = {}
    for key, value in dumped.items():
        out.update(_flat(value, key))
    return out


def diff_rules(old: ReductionRuleSet, new: ReductionRuleSet) -> Doc:
    """What changed from ``old`` to ``new``, by rule name: the rules added and removed (whole),
    and for each changed rule each field (a parameter by its path) with its value before and
    after (None where it did not exist); and whether only the order of the rules changed.

    Written here rather than with a generic differ (deepdiff, dictdiffer): rules are matched by
    their name, not their place in the list, and a field means a rule's field or a parameter's
    path; a generic differ reports list positions that shift when one rule is inserted.
    """
    before = {r.name: r for r in old.rules}
    after = {r.name: r for r in new.rules}
    changed = []
    for name in [r.name for r in new.rules if r.name in before]:
        was, now = _fields(before[name]), _fields(after[name])
        fields = [{"field": key, "from": was.get(key), "to": now.get(key)}
                  for key in sorted(set(was) | set(now)) if was.get(key) != now.get(key)]
        if fields:
            changed.append({"name": name, "fields": fields})
    kept = [r.name for r in new.rules if r.name in before]
    return {
        "added": [r.model_dump(mode="json") for r in new.rules if r.name not in before],
        "removed": [r.model_dump(mode="json") for r in old.rules if r.name not in after],
        "changed": changed,
        "reordered": kept != [r.name for r in old.rules if r.name in after],
    }


def diff_summary(change: Doc) -> str:
    """One line a person reads in the history: "added a; removed b; changed c (timeout_s)"."""
    parts = []
    if change["added"]:
        parts.append("added " + ", ".join(r["name"] for r in change["added"]))
    if change["removed"]:
        parts.append("removed " + ", ".join(r["name"] for r in change["removed"]))
    if change["changed"]:
        parts.append("changed " + ", ".join(f"{c['name']} ({', '.join(f['field'] for f in c['fields'])})"
                                           for c in change["changed"]))
    if change["reordered"]:
        parts.append("reordered")
    return "; ".join(parts) or "no change"


def touched_beamlines(old: ReductionRuleSet, new: ReductionRuleSet) -> dict[str, set[str]]:
    """Each rule a change adds, removes or changes, with the beamline patterns it reaches
    before and after: whoever changes it must be entitled to all of them (moving a rule from
    one beamline to another touches both)."""
    change = diff_rules(old, new)
    before = {r.name: r for r in old.rules}
    after = {r.name: r for r in new.rules}
    names = ([r["name"] for r in change["added"]] + [r["name"] for r in change["removed"]]
             + [c["name"] for c in change["changed"]])
    return {name: {r.beamline for r in (before.get(name), after.get(name)) if r is not None} for name in names}


def dry_run(rules: ReductionRuleSet, datasets: list[Doc], files: dict[str, list[str]]) -> list[Doc]:
    """Which of ``datasets`` the rules would reduce, and which file each rule would take:
    [{"pid", "datasetName", "beamline", "creationTime", "matches": [{"rule", "file"}]}] for
    the datasets that at least one rule matches, in the order given.

    The match is the workers' own (:meth:`ReductionRule.input_file`), so what the dry run
    shows is what scireduce would run."""
    out = []
    for dataset in datasets:
        pid = dataset.get("_id")
        matches = [{"rule": rule.name, "file": path} for rule in rules.rules
                   if (path := rule.input_file(dataset, files.get(str(pid), []))) is not None]
        if matches:
            out.append({"pid": pid, "datasetName": dataset.get("datasetName"),
                        "beamline": (dataset.get("instrumentIds") or [None])[0],
                        "creationTime": dataset.get("creationTime"), "matches": matches})
    return out

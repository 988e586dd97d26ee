"""What changed between two revisions of a configuration (pure)."""

from __future__ import annotations

from typing import Any

from scizoo.core import BeamlineConfig


def diff(old: BeamlineConfig, new: BeamlineConfig) -> dict[str, Any]:
    """Entries added, removed and changed (field by field, by friendly name), and other fields changed."""
    before = {a.name: a.model_dump(mode="json") for a in old.attributes}
    after = {a.name: a.model_dump(mode="json") for a in new.attributes}
    changed = {
        name: {k: [before[name].get(k), after[name].get(k)] for k in sorted(set(before[name]) | set(after[name]))
               if before[name].get(k) != after[name].get(k)}
        for name in sorted(set(before) & set(after)) if before[name] != after[name]
    }
    # Both sides as stored (JSON): a field of models (techniques) compared with its dump is never equal.
    others = {"attributes", "revision"}
    then, now = old.model_dump(mode="json", exclude=others), new.model_dump(mode="json", exclude=others)
    fields = {k: [v, now[k]] for k, v in then.items() if now[k] != v}
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": changed,
        "fields": fields,
    }


def summary(change: dict[str, Any]) -> str:
    """One line for the history: "+2 entries, -1, 3 changed"."""
    parts = []
    if change["added"]:
        parts.append(f"added {', '.join(change['added'])}")
    if change["removed"]:
        parts.append(f"removed {', '.join(change['removed'])}")
    if change["changed"]:
        parts.append(f"changed {', '.join(change['changed'])}")
    if change["fields"]:
        parts.append(f"set {', '.join(change['fields'])}")
    return "; ".join(parts) or "no change"

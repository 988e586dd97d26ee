"""MongoDB's meaning of the few filters the scan table writes, evaluated on a document in hand.

The access rule's predicate (``_access``), the tally's answers (``_tally``) and the
in-memory scan store (``scanlog_api.testing``) all evaluate filters here, so "what ``$in``
means on a list field" is said once. Only what the table's queries use: equality, ``$in``,
``$nin``, ``$ne``, ``$gt``/``$gte``/``$lt``/``$lte`` and ``$exists`` on top-level or dotted
fields, and for the metadata conditions (``_conditions``) ``$eq``, ``$elemMatch``, ``$not``,
``$type: "array"``, ``$regex`` (with ``$options: "i"`` only) and ``$and``/``$or``/``$nor``, on
paths that may pass through lists of objects (followed into each, as MongoDB does).
Anything else raises :class:`UnsupportedFilter` rather than guessing: the caller
then asks the store.

Hand-written, not a library: the tally runs in the service, and mongomock (the one
library with an evaluator) is a stand-in for pymongo that would come along for three
operators; a wider evaluator would also accept filters it cannot promise to match as
the store does. A test runs the same filters on SecantusDB and here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

Doc = dict[str, Any]
_MISSING: Any = object()
_RANGES = {"$gt", "$gte", "$lt", "$lte"}


class UnsupportedFilter(ValueError):
    """A filter (or a value met) this evaluator does not match as the store would."""


def _kind(value: Any) -> int | None:
    """MongoDB's comparison bracket: only values of one bracket are ordered against each other."""
    if isinstance(value, bool):
        return 3
    if isinstance(value, (int, float)):
        return 1
    if isinstance(value, str):
        return 2
    if isinstance(value, datetime):
        return 4
    return None


def same(a: Any, b: Any) -> bool:
    """MongoDB's equality of two values: ``true`` is not the number 1 (as it is in Python)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _kind(a) == 1 and _kind(b) == 1:
        return bool(a == b)
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a == b
    return type(a) is type(b) and bool(a == b)


class _Reached(tuple[Any, ...]):
    """The values a path reached through lists of objects (MongoDB's implicit traversal: the
    rest of the path is followed into each object of a list). An operator holds when it holds
    for one of them, each operator of a field's condition on its own (so two bounds may be met
    by two objects, as on the store)."""


def _candidates(value: Any) -> list[Any]:
    """What a condition is tried on: a list field's elements and the list itself; a missing
    field is null."""
    if isinstance(value, _Reached):
        return [c for v in value for c in _candidates(v)]
    if value is _MISSING:
        return [None]
    if isinstance(value, list):
        return [*value, value]
    return [value]


def _reach(value: Any, parts: list[str], path: str) -> list[Any]:
    """Every value ``parts`` reaches from ``value``, into each object of a list on the way."""
    if not parts:
        return [value]
    if isinstance(value, dict):
        return _reach(value[parts[0]], parts[1:], path) if parts[0] in value else []
    if isinstance(value, list):
        if any(isinstance(v, list) for v in value):
            raise UnsupportedFilter(f"{path}: a list of lists inside the path")
        return [r for v in value if isinstance(v, dict) for r in _reach(v, parts, path)]
    return []


def _lookup(doc: Doc, path: str) -> Any:
    value: Any = doc
    parts = path.split(".")
    for n, part in enumerate(parts):
        if isinstance(value, list):
            if not any(isinstance(v, (dict, list)) for v in value):
                return _MISSING  # MongoDB finds no field in a list of plain values
            return _Reached(_reach(value, parts[n:], path))
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def reached_values(doc: Doc, path: str) -> list[Any]:
    """What MongoDB's ``distinct`` reads at ``path`` in ``doc``: every value the path reaches,
    into each object of a list on the way, a list at the end giving its elements."""
    try:
        value = _lookup(doc, path)
    except UnsupportedFilter:
        return []
    if value is _MISSING:
        return []
    return [e for v in _reached(value) for e in (v if isinstance(v, list) else [v])]


def _in(value: Any, wanted: list[Any]) -> bool:
    if isinstance(value, _Reached) and any(w is None for w in wanted):
        raise UnsupportedFilter("null through a list of objects: not a test the scan table writes")
    if isinstance(value, list) and not value and any(w is None for w in wanted):
        return False  # an empty list is not null (a missing field is)
    return any(same(v, w) for v in _candidates(value) for w in wanted)


def _ordered(value: Any, op: str, bound: Any) -> bool:
    if isinstance(value, _Reached):
        return any(_ordered(v, op, bound) for v in value)
    items = value if isinstance(value, list) else ([] if value is _MISSING else [value])
    for v in items:
        if _kind(v) is None or _kind(v) != _kind(bound):
            continue
        if ((op == "$gt" and v > bound) or (op == "$gte" and v >= bound)
                or (op == "$lt" and v < bound) or (op == "$lte" and v <= bound)):
            return True
    return False


@functools.lru_cache(maxsize=256)
def _pattern(pattern: str, options: str) -> re.Pattern[str]:
    if options not in ("", "i"):
        raise UnsupportedFilter(f"$options {options!r}: not one the scan table writes")
    return re.compile(pattern, re.IGNORECASE if options else 0)


def _regex(value: Any, pattern: Any, options: Any) -> bool:
    """MongoDB's ``$regex``: a text value (or any text element of a list) contains a match."""
    if not isinstance(pattern, str) or not isinstance(options, str):
        raise UnsupportedFilter("$regex: only a text pattern")
    compiled = _pattern(pattern, options)
    return any(isinstance(v, str) and compiled.search(v) is not None for v in _candidates(value))


def _operator(value: Any, op: str, arg: Any, condition: dict[str, Any]) -> bool:
    """One operator of a field's condition."""
    if op == "$in" and isinstance(arg, list):
        return _in(value, arg)
    if op == "$nin" and isinstance(arg, list):
        return not _in(value, arg)
    if op == "$eq" and not isinstance(arg, (dict, list)):
        return _in(value, [arg])
    if op == "$ne":
        return not _in(value, [arg])
    if op in _RANGES and _kind(arg) is not None:
        return _ordered(value, op, arg)
    if op == "$exists" and isinstance(arg, bool):
        return (bool(value) if isinstance(value, _Reached) else value is not _MISSING) == arg
    if op == "$elemMatch" and isinstance(arg, dict) and arg and all(str(k).startswith("$") for k in arg):
        return any(isinstance(v, list) and any(condition_holds(e, arg) for e in v) for v in _reached(value))
    if op == "$not" and isinstance(arg, dict) and arg and all(str(k).startswith("$") for k in arg):
        return not condition_holds(value, arg)
    if op == "$type" and arg == "array":
        return any(isinstance(v, list) for v in _reached(value))
    if op == "$regex":
        return _regex(value, arg, condition.get("$options", ""))
    if op == "$options" and "$regex" in condition:
        return True  # read with $regex
    raise UnsupportedFilter(f"{op}: not an operator the scan table writes")


def _reached(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, _Reached) else (value,)


def condition_holds(value: Any, condition: Any) -> bool:
    """Whether a field's value meets one condition of a filter (a missing field: pass None,
    which is what MongoDB compares it as; only ``$exists`` tells the two apart, through
    :func:`matches`)."""
    if isinstance(condition, dict) and condition and all(str(k).startswith("$") for k in condition):
        return all(_operator(value, op, arg, condition) for op, arg in condition.items())
    if isinstance(condition, (dict, list)):
        raise UnsupportedFilter(f"{condition!r}: a whole object or list to compare")
    return _in(value, [condition])


_LOGICAL = {"$and", "$or", "$nor"}


def matches(query: Doc, doc: Doc) -> bool:
    """Whether ``doc`` is selected by ``query``: every field's condition holds, and each
    ``$and``/``$or``/``$nor`` (a list of such filters) over the same document."""
    for field, condition in query.items():
        if field in _LOGICAL:
            if not isinstance(condition, list) or not condition:
                raise UnsupportedFilter(f"{field}: takes a non-empty list of filters")
            found = [matches(q, doc) for q in condition]
            ok = all(found) if field == "$and" else any(found) if field == "$or" else not any(found)
        elif field.startswith("$"):
            raise UnsupportedFilter(f"{field}: not an operator the scan table writes")
        else:
            ok = condition_holds(_lookup(doc, field), condition)
        if not ok:
            return False
    return True


def note_units(found: dict[str, tuple[set[str], set[str]]], doc: Doc) -> None:
    """Add ``doc``'s units of each key of ``found`` (every unit, and those of entries without
    ``valueSI``), read along the path as MongoDB's ``distinct`` reads them; an entry is "without
    ``valueSI``" as ``{path.valueSI: {$exists: false}}`` selects it. Both scan stores' key units."""
    for key, (every, without_si) in found.items():
        path = f"scientificMetadata.{key}"
        units = [u for u in reached_values(doc, f"{path}.unit") if isinstance(u, str)]
        if units:
            every.update(units)
            if not reached_values(doc, f"{path}.valueSI"):
                without_si.update(units)


def outermost(paths: Iterable[str]) -> list[str]:
    """The paths no other one of them holds (``a`` and ``a.b``: ``a``), sorted: a projection
    that names both is refused by MongoDB ("Path collision"), and the outer one reads the inner."""
    paths = set(paths)
    return sorted(p for p in paths if not any(p.startswith(o + ".") for o in paths))

"""MongoDB's meaning of the few filters the scan table writes, evaluated on a document in hand.

The access rule's predicate (``_access``), the tally's answers (``_tally``) and the
in-memory scan store (``scanlog_api.testing``) all evaluate filters here, so "what ``$in``
means on a list field" is said once. Only what the table's queries use: equality, ``$in``,
``$nin``, ``$ne``, ``$gt``/``$gte``/``$lt``/``$lte`` and ``$exists`` on top-level or dotted
fields. Anything else raises :class:`UnsupportedFilter` rather than guessing: the caller
then asks the store.

Hand-written, not a library: the tally runs in the service, and mongomock (the one
library with an evaluator) is a stand-in for pymongo that would come along for three
operators; a wider evaluator would also accept filters it cannot promise to match as
the store does. A test runs the same filters on SecantusDB and here.
"""

from __future__ import annotations

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


def _candidates(value: Any) -> list[Any]:
    """What a condition is tried on: a list field's elements and the list itself; a missing
    field is null."""
    if value is _MISSING:
        return [None]
    if isinstance(value, list):
        return [*value, value]
    return [value]


def _lookup(doc: Doc, path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if isinstance(value, list):
            raise UnsupportedFilter(f"{path}: a list inside the path")
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _in(value: Any, wanted: list[Any]) -> bool:
    if isinstance(value, list) and not value and any(w is None for w in wanted):
        return False  # an empty list is not null (a missing field is)
    return any(same(v, w) for v in _candidates(value) for w in wanted)


def _ordered(value: Any, op: str, bound: Any) -> bool:
    items = value if isinstance(value, list) else ([] if value is _MISSING else [value])
    for v in items:
        if _kind(v) is None or _kind(v) != _kind(bound):
            continue
        if ((op == "$gt" and v > bound) or (op == "$gte" and v >= bound)
                or (op == "$lt" and v < bound) or (op == "$lte" and v <= bound)):
            return True
    return False


def condition_holds(value: Any, condition: Any) -> bool:
    """Whether a field's value meets one condition of a filter (a missing field: pass None,
    which is what MongoDB compares it as; only ``$exists`` tells the two apart, through
    :func:`matches`)."""
    if isinstance(condition, dict) and condition and all(str(k).startswith("$") for k in condition):
        for op, arg in condition.items():
            if op == "$in" and isinstance(arg, list):
                ok = _in(value, arg)
            elif op == "$nin" and isinstance(arg, list):
                ok = not _in(value, arg)
            elif op == "$ne":
                ok = not _in(value, [arg])
            elif op in _RANGES and _kind(arg) is not None:
                ok = _ordered(value, op, arg)
            elif op == "$exists" and isinstance(arg, bool):
                ok = (value is not _MISSING) == arg
            else:
                raise UnsupportedFilter(f"{op}: not an operator the scan table writes")
            if not ok:
                return False
        return True
    if isinstance(condition, (dict, list)):
        raise UnsupportedFilter(f"{condition!r}: a whole object or list to compare")
    return _in(value, [condition])


def matches(query: Doc, doc: Doc) -> bool:
    """Whether ``doc`` is selected by the flat filter ``query`` (every field's condition holds)."""
    for field, condition in query.items():
        if field.startswith("$"):
            raise UnsupportedFilter(f"{field}: the scan table's filters are flat")
        if not condition_holds(_lookup(doc, field), condition):
            return False
    return True

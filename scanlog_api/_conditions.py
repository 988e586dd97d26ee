"""Conditions on scientific metadata: parsed from the query string, turned into store filters.

The syntax (repeat ``where`` for several conditions; they are ANDed)::

    where=<key>:<op>[:<value>[:<unit>]][|<op>[:<value>[:<unit>]]]...

Tests after ``|`` are alternatives on the same key, ORed with the first (``photon_energy:
between:8:9:keV|between:11:12:keV``: 8 to 9 keV, or 11 to 12 keV); the key is written once, so
an OR never joins two keys.

``op`` is one of ``eq`` (``=``), ``ne`` (``!=``, ``≠``), ``lt`` (``<``), ``le`` (``<=``, ``≤``),
``gt`` (``>``), ``ge`` (``>=``, ``≥``), ``between`` (value ``lo:hi``), ``exists``, ``contains``
and ``in`` (values separated by ``,``). The text is split on ``|``, the parts on ``:`` (and ``in``'s
values on ``,``) first and then percent-decoded, so a ``|``, ``:``, ``,`` or ``%`` inside a key or
a text is written ``%7C``, ``%3A``, ``%2C``, ``%25``. A ``.`` in a key steps into a nested object
(``sample.temperature``); stored keys never hold a ``.`` (``scizoo.core.metadata_key``).
A value is a number when it reads as one (``8``, ``-2.5e3``), ``true``/``false`` a boolean,
anything else text; a text that reads as a number is written in double quotes (``"8"``).

Meaning, after SciCat's ``fullquery`` ``scientific`` conditions (``mapScientificQuery`` in the
backend's ``src/common/utils.ts``):

- with a unit: the value is converted to SI with pint and compared with the stored
  ``valueSI``, on scans whose ``unitSI`` is the same SI unit (SciCat's meaning). A scan whose
  entry has no ``valueSI`` (a list, such as a motor's ``[first, last]``) compares its
  ``value`` with the condition converted into the entry's own unit (any compatible unit the
  selection's entries without ``valueSI`` hold: when every entry has ``valueSI``, the filter is
  one flat range on it, which a store plans from its indexes). ``between`` is strict on both ends, as SciCat's
  ``RANGE`` (``$gt`` lo, ``$lt`` hi): use ``ge`` and ``le`` for an inclusive range.
- without a unit: the entry's ``value`` (or a bare value stored under the key by another
  writer, or SciCat's short form ``v``) is compared as given, as SciCat does for a condition
  without a unit (SciCat's ``EQUAL_TO_NUMERIC`` looks at ``value`` only; here every condition
  without a unit looks at all three).
- a list matches when any one element does (for ``between``, one element inside both bounds).
  A key that passes through a list of objects (``detectors.exposure`` over ``[{exposure: ..},
  ..]``) is followed into each object, as MongoDB follows a path; there each part of a test
  (a bound, the unit) may be met by a different object, which is the store's meaning and the
  live stream's (``_match``); the key picker offers no key through a list.
- ``ne`` is "has the key, and ``eq`` does not hold"; ``contains`` is a case-insensitive
  substring of a text value; ``exists`` has no value.
- a key no scan the caller may read holds is refused (422 naming the condition, by the caller:
  :func:`check_known_keys`), as are an incompatible unit and a value that is no value.

User text is never an operator or a pattern: keys are validated field names, values are
compared with ``$eq``/``$in``/ranges, and ``contains`` escapes its text before it becomes a
``$regex``. Bounded: at most :data:`MAX_CONDITIONS` conditions, :data:`MAX_TESTS` tests with their
alternatives, :data:`MAX_VALUES` values.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Annotated, Any, Literal, get_args
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from scizoo.core import to_si, unit_problem

Doc = dict[str, Any]
Scalar = float | int | str | bool
Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "between", "exists", "contains", "in"]

#: At most this many conditions in one request.
MAX_CONDITIONS = 8
#: At most this many tests in one condition (its first and the alternatives after ``|``).
MAX_ALTERNATIVES = 8
#: At most this many tests in one request, alternatives counted.
MAX_TESTS = 16
#: Separates a condition's alternatives (OR on its key).
OR = "|"
#: At most this many values in one ``in`` condition.
MAX_VALUES = 50
MAX_KEY_LENGTH = 200
MAX_KEY_DEPTH = 5
MAX_TEXT_LENGTH = 200
MAX_UNIT_LENGTH = 40

ALIASES: dict[str, Op] = {"=": "eq", "!=": "ne", "≠": "ne", "<": "lt", "<=": "le", "≤": "le",
                          ">": "gt", ">=": "ge", "≥": "ge"}
_RANGE_OPS: dict[str, str] = {"lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
#: A key's segment: a field name MongoDB takes as a name (never an operator, never empty).
_SEGMENT = re.compile(r"[^$.\x00][^.\x00]*")
#: Where a value may sit, as SciCat's conditions without a unit look for it: a bare value
#: another writer stored, the {value, unit} entry's value, and SciCat's short form {v, u}.
_VALUE_PATHS = ("", ".value", ".v")


class ConditionError(ValueError):
    """A condition that cannot be used; the message names it."""


class Condition(BaseModel):
    """One condition on a scientificMetadata key, as parsed (``text`` is what was asked)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: Annotated[str, Field(description="The condition as written, to name it in an error.")]
    key: Annotated[str, Field(max_length=MAX_KEY_LENGTH, description="The key; '.' steps into a nested object.")]
    op: Op
    values: Annotated[tuple[Scalar, ...], Field(max_length=MAX_VALUES)] = ()
    unit: Annotated[str, Field(max_length=MAX_UNIT_LENGTH)] = ""
    alternatives: Annotated[tuple[Condition, ...], Field(
        max_length=MAX_ALTERNATIVES - 1,
        description="Further tests on the same key, ORed with this one (written after '|').")] = ()

    @field_validator("key")
    @classmethod
    def _field_name(cls, key: str) -> str:
        parts = key.split(".")
        if len(parts) > MAX_KEY_DEPTH or not all(_SEGMENT.fullmatch(p) for p in parts):
            raise ValueError(f"{key!r} is not a metadata key (segments of a nested key are separated by '.', "
                             f"none empty or starting with '$', at most {MAX_KEY_DEPTH} deep)")
        return key

    @field_validator("values")
    @classmethod
    def _bounded(cls, values: tuple[Scalar, ...]) -> tuple[Scalar, ...]:
        for v in values:
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"{v} is not a finite number")
            if isinstance(v, str) and len(v) > MAX_TEXT_LENGTH:
                raise ValueError(f"a text value is at most {MAX_TEXT_LENGTH} characters")
        return values

    @model_validator(mode="after")
    def _fits(self) -> Condition:
        op, values = self.op, self.values
        numbers = all(_is_number(v) for v in values)
        if op == "exists":
            if values or self.unit:
                raise ValueError("exists takes no value")
        elif op == "between":
            if len(values) != 2 or not numbers:
                raise ValueError("between takes two numbers, lo:hi")
            if not values[0] < values[1]:  # type: ignore[operator]
                raise ValueError("between takes lo < hi")
        elif op == "in":
            if not values:
                raise ValueError("in takes one value or more, separated by ','")
        elif len(values) != 1:
            raise ValueError(f"{op} takes one value")
        if op in _RANGE_OPS and not numbers:
            raise ValueError(f"{op} compares numbers")
        if op == "contains" and not isinstance(values[0], str):
            raise ValueError("contains takes a text")
        if self.unit and not numbers:
            raise ValueError("a unit goes with numbers only")
        if any(a.key != self.key or a.alternatives for a in self.alternatives):
            raise ValueError("alternatives are tests on the condition's own key, without alternatives of their own")
        return self

    def tests(self) -> tuple[Condition, ...]:
        """The condition's tests, ORed: itself (its own op, values, unit) and its alternatives."""
        return (self, *self.alternatives)


#: The longest number a condition may give (a float has 17 significant digits; an int64 19).
MAX_NUMBER_CHARS = 64


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _scalar(part: str) -> Scalar:
    """A value as written: a number, true/false, a quoted text, else the text itself."""
    if _NUMBER.fullmatch(part):
        if len(part) > MAX_NUMBER_CHARS:  # Python refuses to read integers of over 4,300 digits
            raise ConditionError(f"{part[:20]}... is too large a number (at most {MAX_NUMBER_CHARS} characters)")
        number = json.loads(part)
        if isinstance(number, float) and not math.isfinite(number):
            raise ConditionError(f"{part} is not a finite number")
        if isinstance(number, int) and not -(2**63) <= number < 2**63:
            try:  # beyond the store's integers: compared as a number all the same
                return float(number)
            except OverflowError as err:
                raise ConditionError(f"{part[:20]}... is too large a number") from err
        return int(number) if isinstance(number, int) else float(number)
    if part in ("true", "false"):
        return part == "true"
    if len(part) >= 2 and part[0] == part[-1] == '"':
        return part[1:-1]
    return part


def _fields(raw: list[str]) -> dict[str, Any]:
    """One test's op, values and unit from its ':'-separated parts (still percent-encoded)."""
    op_text, rest = unquote(raw[0]), raw[1:]
    op = ALIASES.get(op_text, op_text)
    if op not in get_args(Op):
        raise ConditionError(f"{op_text[:40]!r} is not an op (one of {', '.join(get_args(Op))}; "
                             f"after {OR!r} the key is not written again)")
    if op == "between":
        values, unit_parts = [unquote(p) for p in rest[:2]], rest[2:]
    elif op == "in":
        values, unit_parts = [unquote(v) for v in rest[0].split(",")] if rest else [], rest[1:]
    else:
        values, unit_parts = [unquote(p) for p in rest[:1]], rest[1:]
    if len(unit_parts) > 1:
        raise ConditionError("too many ':' (a ':' inside a key or text is written %3A)")
    unit = unquote(unit_parts[0]) if unit_parts else ""
    return {"op": op, "unit": unit, "values": tuple(_scalar(v) for v in values)}


def parse_condition(text: str) -> Condition:
    """One ``where`` parameter as a :class:`Condition` (:class:`ConditionError` names it)."""
    if len(text) > MAX_KEY_LENGTH + MAX_VALUES * (MAX_TEXT_LENGTH + 1) + 100:
        raise ConditionError(f"condition {text[:60]!r}...: too long")
    first, *more = text.split(OR)
    raw = first.split(":")
    if len(raw) < 2:
        raise ConditionError(f"condition {text!r}: write it as key:op[:value[:unit]]")
    if len(more) >= MAX_ALTERNATIVES:
        raise ConditionError(f"condition {text[:60]!r}: at most {MAX_ALTERNATIVES} tests joined by {OR!r}")
    key = unquote(raw[0])
    try:
        alternatives = []
        for part in more:
            if not part:
                raise ConditionError(f"an empty test after {OR!r} (a {OR!r} inside a text is written %7C)")
            alternatives.append(Condition(text=text, key=key, **_fields(part.split(":"))))
        return Condition(text=text, key=key, alternatives=tuple(alternatives), **_fields(raw[1:]))
    except ConditionError as err:
        raise ConditionError(f"condition {text!r}: {err}") from err
    except ValidationError as err:
        # a field's error names the field; the condition's own (op and values) is said as is
        reasons = "; ".join(("{}: ".format(".".join(map(str, e["loc"]))) if e["loc"] else "")
                            + e["msg"].removeprefix("Value error, ") for e in err.errors())
        raise ConditionError(f"condition {text!r}: {reasons}") from err


def parse_conditions(texts: Iterable[str]) -> list[Condition]:
    """Every ``where`` parameter, bounded by :data:`MAX_CONDITIONS`."""
    texts = list(texts)
    if len(texts) > MAX_CONDITIONS:
        raise ConditionError(f"at most {MAX_CONDITIONS} conditions; {len(texts)} were given")
    conditions = [parse_condition(t) for t in texts]
    if (tests := sum(len(c.tests()) for c in conditions)) > MAX_TESTS:
        raise ConditionError(f"at most {MAX_TESTS} tests in all, alternatives after {OR!r} counted; {tests} were given")
    return conditions


def check_known_keys(conditions: Iterable[Condition], known: Collection[str]) -> None:
    """Refuse a condition whose key is not ``known`` (the keys some scan the caller may read
    holds: the caller asks the store within the access rule, so this names no other key)."""
    for cond in conditions:
        if cond.key not in known:
            raise ConditionError(f"condition {cond.text!r}: no scan you may read has the key {cond.key!r}")


def _to_si(value: float, unit: str) -> float | None:
    """``to_si``'s value, None for a unit pint cannot use (``to_si`` turns every parser error
    and runaway expression into "no unit", so a typed unit is never a 500)."""
    si = to_si(value, unit)
    return None if si is None or not math.isfinite(si.value) else si.value


def _si_unit(unit: str) -> str | None:
    """The SI unit ``unit`` converts to (None: not a unit pint can use)."""
    si = to_si(1.0, unit)
    return None if si is None else si.unit


def _from_si(value_si: float, unit: str) -> float:
    """A value in SI into ``unit`` (pint's affine conversion, through ``to_si`` at 0 and 1)."""
    zero, one = _to_si(0.0, unit), _to_si(1.0, unit)
    assert zero is not None and one is not None  # the unit was checked compatible
    # To 12 significant digits, as to_si rounds: 0.1 mm in um is 100.00000000000001 otherwise,
    # and an entry of 100 um would not be ">= 0.1 mm".
    return float(f"{(value_si - zero) / (one - zero):.12g}")


def _test(cond: Condition, values: tuple[Scalar, ...]) -> Doc:
    """The operator test of one field (before list handling), for these (converted) values."""
    op = cond.op
    if op in _RANGE_OPS:
        return {_RANGE_OPS[op]: values[0]}
    if op == "between":
        return {"$gt": values[0], "$lt": values[1]}
    if op == "in":
        return {"$in": list(values)}
    if op == "contains":
        return {"$regex": re.escape(str(values[0])), "$options": "i"}
    return {"$eq": values[0]}  # eq, and ne (negated by the caller)


def _any_element(path: str, test: Doc) -> list[Doc]:
    """``test`` on a field, a list field matching when one element does: MongoDB applies each
    bound of a range to any element separately, so a list is tested with ``$elemMatch``."""
    if len(test) == 1 or "$regex" in test:
        return [{path: test}]  # one test: MongoDB's own "any element" already means this
    return [{path: {"$elemMatch": test}}, {path: {**test, "$not": {"$type": "array"}}}]


def _positive(cond: Condition, path: str, units: Iterable[str], without_si: Collection[str] | None) -> Doc:
    """The filter of the condition's positive form (``ne`` is the negation of ``eq``)."""
    if not cond.unit:
        return {"$or": [alt for suffix in _VALUE_PATHS for alt in _any_element(path + suffix, _test(cond, cond.values))]}
    si_unit = _si_unit(cond.unit)
    if si_unit is None:  # checked here, not when parsed: a saved view's conditions parse as they did
        problem = unit_problem(cond.unit)
        raise ConditionError(f"condition {cond.text!r}: unknown unit {cond.unit!r}" + (f" ({problem})" if problem else ""))
    known = sorted(set(units))
    compatible = [u for u in known if u and _si_unit(u) == si_unit]
    if known and not compatible:
        raise ConditionError(f"condition {cond.text!r}: {cond.unit!r} is not compatible with the unit of "
                             f"{cond.key!r} ({', '.join(map(repr, known))})")
    in_si = tuple(si for v in cond.values if (si := _to_si(float(v), cond.unit)) is not None)
    if len(in_si) != len(cond.values):
        raise ConditionError(f"condition {cond.text!r}: a value is out of range in SI units")
    alternatives: list[Doc] = [{f"{path}.valueSI": _test(cond, in_si), f"{path}.unitSI": si_unit}]
    # Entries without valueSI (lists): their value, in their own unit; an alternative only for
    # a unit such entries hold, so a key whose entries all have valueSI stays one flat filter.
    for unit in (u for u in compatible if without_si is None or u in without_si):
        own = tuple(_from_si(v, unit) for v in in_si)
        alternatives.append({f"{path}.valueSI": {"$exists": False}, f"{path}.unit": unit,
                             "$or": _any_element(f"{path}.value", _test(cond, own))})
    return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}


def metadata_path(key: str) -> str:
    """The store's field of a condition's key ('.' steps into nested objects; the key's
    segments are stored as written: ``scizoo.core.metadata_key`` keeps them field names)."""
    return f"scientificMetadata.{key}"


def condition_filter(cond: Condition, units: Iterable[str] = (), without_si: Iterable[str] | None = None) -> Doc:
    """The store filter of one condition (its alternatives ORed). ``units``: the units the
    selection holds for its key (for a condition with a unit: to refuse an incompatible one).
    ``without_si``: the units of the selection's entries of the key that have no ``valueSI``
    (compared in their own unit); None when not known: every unit of ``units`` may have such
    entries (exact, but an ``$or`` that a store without a planner for it reads slowly)."""
    units = list(units)
    own = None if without_si is None else set(without_si)
    if not cond.alternatives:
        return _test_filter(cond, units, own)
    either: list[Doc] = []
    for test in cond.tests():
        found = _test_filter(test, units, own)
        either.extend(found["$or"] if list(found) == ["$or"] else [found])
    return {"$or": either}


def _test_filter(cond: Condition, units: Iterable[str], without_si: Collection[str] | None) -> Doc:
    """The filter of one test (the condition's own, ignoring its alternatives)."""
    path = metadata_path(cond.key)
    if cond.op == "exists":
        return {path: {"$exists": True}}
    positive = _positive(cond, path, units, without_si)
    if cond.op == "ne":
        return {"$and": [{path: {"$exists": True}}, {"$nor": [positive]}]}
    return positive


def conditions_filters(conditions: Iterable[Condition], units: Mapping[str, Iterable[str]],
                       without_si: Mapping[str, Iterable[str]] | None = None) -> list[Doc]:
    """Each condition's filter (to be ANDed); ``units`` and ``without_si`` by key, see
    :func:`condition_filter` (``without_si`` None: not known for any key)."""
    return [condition_filter(c, units.get(c.key, ()), None if without_si is None else without_si.get(c.key, ()))
            for c in conditions]


def keys_with_units(conditions: Iterable[Condition]) -> list[str]:
    """The keys whose units the store must be asked for (those of conditions with a unit)."""
    return sorted({c.key for c in conditions if any(t.unit for t in c.tests())})


def is_entry(value: Mapping[str, Any]) -> bool:
    """A {value, unit} entry (or SciCat's short {v, u}), rather than an object of keys."""
    return "value" in value or "v" in value


def metadata_entries(meta: Any, prefix: str = "", depth: int = MAX_KEY_DEPTH) -> Iterator[tuple[str, Any]]:
    """Every key of a scientificMetadata object that a condition can name, with what it holds
    (an entry, or a bare value): entries and bare values (lists included: a condition tests
    their elements), and the keys inside nested objects as ``outer.inner``, at most
    :data:`MAX_KEY_DEPTH` deep. A key no condition could name (a segment starting with '$',
    holding '.') is left out. The table's columns are these keys too (``_table.row``)."""
    if not isinstance(meta, Mapping) or depth <= 0:
        return
    for name, value in meta.items():
        if not isinstance(name, str) or not _SEGMENT.fullmatch(name):
            continue
        key = prefix + name
        if isinstance(value, Mapping) and not is_entry(value):
            yield from metadata_entries(value, key + ".", depth - 1)
        else:
            yield key, value


def key_units(meta: Any) -> Iterator[tuple[str, str]]:
    """:func:`metadata_entries`' keys, each with its unit ("" for none)."""
    for key, value in metadata_entries(meta):
        unit = value.get("unit", value.get("u", "")) if isinstance(value, Mapping) else ""
        yield key, unit if isinstance(unit, str) else ""


def and_into(base: Doc, filters: Iterable[Doc]) -> Doc:
    """``base`` with the filters ANDed: a plain field merged in where ``base`` does not name it
    (a flat filter lets a store use its indexes), the rest under one ``$and``."""
    out = dict(base)
    rest: list[Doc] = []
    for f in filters:
        if all(not k.startswith("$") and k not in out for k in f):
            out.update(f)
        else:
            rest.append(f)
    if rest:
        out["$and"] = [*out.get("$and", []), *rest]
    return out

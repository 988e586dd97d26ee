"""The PaNOSC search API's models and their ``where``: properties, LoopBack's operators, and
each condition as a store filter (``_panosc`` reads the rest of a filter).

A property's value is an equality, or an object of LoopBack operators (:data:`OPERATORS`);
``and``/``or`` join clauses; ``text`` matches the model's text fields. Every property name
and operator is looked up here and anything else is refused naming it; values are checked
against the property's type, and typed text is escaped before it becomes a pattern.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from ._conditions import MAX_CONDITIONS, MAX_TEXT_LENGTH, MAX_VALUES
from ._errors import ScanlogError
from ._match import matches

Doc = dict[str, Any]

MAX_DEPTH = 8
MAX_CLAUSES = 40
#: A LIKE pattern's ``%`` runs at most (its text is at most 200 characters, as every text value):
#: each ``%`` is a ``.*`` that a regular expression engine may backtrack through, so k of them
#: cost up to n**k steps on a text of n characters (150 froze the process: Python's engine holds
#: the GIL, and SecantusDB's is Python's).
MAX_LIKE_RUNS = 3
#: and all the like patterns of one filter together: each is tried on every candidate, so 39
#: patterns of three runs under an ``or`` cost 39 times one (2.8 s a thousand published
#: datasets of 27-character titles on SecantusDB, anonymous; the issue's store holds a million).
MAX_FILTER_LIKE_RUNS = 6

#: LoopBack's operators this API answers (``regexp`` and ``near`` are not among them).
OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "between", "inq", "nin", "like", "nlike", "ilike", "nilike")
_RANGES = {"gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}
#: Matches nothing (a property every item holds with another value).
NOTHING: Doc = {"_id": {"$in": []}}


class BadFilter(ScanlogError):
    """A PaNOSC filter that cannot be used; the message names the part."""

    status = 400


Kind = Literal["text", "number", "bool", "date"]
ABSENT: Any = object()


@dataclass(frozen=True)
class Prop:
    """A PaNOSC property: where the store keeps it and its type; or ``const``: a value every
    item has without it being stored (a Document's ``type``), tested here."""

    path: str
    kind: Kind
    const: Any = ABSENT
    #: Compared with the last part of the stored path (a file's name).
    last_part: bool = False


@dataclass(frozen=True)
class Model:
    """The properties of one PaNOSC model, the store fields ``text`` searches, and its relations."""

    name: str
    props: dict[str, Prop]
    text: tuple[str, ...]
    relations: tuple[str, ...] = ()


DATASET = Model("Dataset", {
    "pid": Prop("_id", "text"), "title": Prop("datasetName", "text"), "isPublic": Prop("isPublished", "bool"),
    "size": Prop("size", "number"), "creationDate": Prop("creationTime", "date"),
}, ("datasetName",), ("parameters", "techniques", "instrument", "files", "samples", "documents"))
DOCUMENT = Model("Document", {
    "pid": Prop("_id", "text"), "doi": Prop("doi", "text"), "title": Prop("title", "text"),
    "summary": Prop("abstract", "text"), "isPublic": Prop("", "bool", True), "type": Prop("", "text", "publication"),
    "releaseDate": Prop("registeredTime", "date"), "license": Prop("metadata.rightsList.rightsIdentifier", "text"),
    "keywords": Prop("metadata.subjects.subject", "text"),
}, ("title", "abstract"), ("datasets", "members", "parameters"))
#: Instruments are read whole (a facility has tens) and matched in memory, in their PaNOSC shape.
INSTRUMENT = Model("Instrument", {"pid": Prop("pid", "text"), "name": Prop("name", "text"),
                                  "facility": Prop("facility", "text")}, ("name", "facility"))
#: Relative to one element of a dataset's ``techniques`` (SciCat's ``{pid, name}``).
TECHNIQUE = Model("Technique", {"pid": Prop("pid", "text"), "name": Prop("name", "text")}, ("name",))
#: Relative to one element of an OrigDatablock's ``dataFileList``; a file's name is its path's last part.
FILE = Model("File", {"name": Prop("path", "text", last_part=True), "path": Prop("path", "text"),
                      "size": Prop("size", "number")}, ("path",))
#: Relative to one element of a PublishedData's ``metadata.creators`` (DataCite's: name "Family, Given").
PERSON = Model("Person", {"fullName": Prop("name", "text")}, ("name",))
MEMBER = Model("Member", {"role": Prop("", "text", None)}, (), ("person", "affiliation"))
#: Held by no dataset here: a filter on them matches none.
SAMPLE = Model("Sample", {"name": Prop("", "text", None), "pid": Prop("", "text", None),
                          "description": Prop("", "text", None)}, ())
AFFILIATION = Model("Affiliation", {"name": Prop("", "text", None)}, ())


@dataclass
class Budget:
    """Clauses left in one request (every relation's together)."""

    clauses: int = MAX_CLAUSES
    conditions: int = MAX_CONDITIONS
    like_runs: int = MAX_FILTER_LIKE_RUNS

    def runs(self, pattern: str) -> None:
        """Count a like pattern's runs of ``%`` (already merged), each pattern's and the filter's."""
        runs = pattern.count("%")
        if runs > MAX_LIKE_RUNS:
            raise BadFilter(f"a like pattern holds at most {MAX_LIKE_RUNS} runs of '%': {pattern[:60]!r}")
        self.like_runs -= runs
        if self.like_runs < 0:
            raise BadFilter(f"the like patterns of a filter hold at most {MAX_FILTER_LIKE_RUNS} runs of '%' "
                            "in all: each is tried on every candidate")

    def clause(self, depth: int) -> None:
        self.clauses -= 1
        if self.clauses < 0:
            raise BadFilter(f"a filter holds at most {MAX_CLAUSES} clauses")
        if depth > MAX_DEPTH:
            raise BadFilter(f"a filter nests at most {MAX_DEPTH} deep")


def unknown_keys(keys: Any, known: tuple[str, ...], where: str) -> None:
    extra = [str(k) for k in keys if k not in known]
    if extra:
        raise BadFilter(f"{where}: {', '.join(map(repr, extra))} not understood (one of {', '.join(known)})")


def where_object(where: Any, name: str) -> Doc:
    if not isinstance(where, dict):
        raise BadFilter(f"{name} is a JSON object of conditions")
    return where


# --- where on a model's properties -----------------------------------------------------------

def _value(value: Any, prop: Prop, name: str) -> Any:
    """One value of a condition, of the property's type (a date from ISO 8601)."""
    if prop.kind == "text" and isinstance(value, str) and len(value) <= MAX_TEXT_LENGTH:
        return value
    if prop.kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value):
        return storable(value)
    if prop.kind == "bool" and isinstance(value, bool):
        return value
    if prop.kind == "date" and isinstance(value, str) and len(value) <= 40:
        try:  # in UTC, as the store compares: years 1 and 9999 shifted out of range are refused
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    expected = {"text": f"a text of at most {MAX_TEXT_LENGTH} characters", "number": "a number",
                "bool": "true or false", "date": "a date (ISO 8601)"}[prop.kind]
    raise BadFilter(f"{name}: {json.dumps(value)[:60]} is not {expected}")


def storable(number: int | float) -> int | float:
    """A number the store can hold: an integer beyond 64 bits is compared as a float (as the
    scan table's conditions do), never sent as one the store refuses."""
    if isinstance(number, int) and not -(2**63) <= number < 2**63:
        return float(number)
    return number


def _like_body(pattern: str, budget: Budget, run: str = ".*", one: str = ".") -> str:
    """SQL's LIKE pattern as an escaped regular expression: ``%`` any run (several in a row are
    one), ``_`` one character. Bounded: see :data:`MAX_LIKE_RUNS`, :data:`MAX_FILTER_LIKE_RUNS`."""
    pattern = re.sub("%{2,}", "%", pattern)
    budget.runs(pattern)
    return "".join(run if c == "%" else one if c == "_" else re.escape(c) for c in pattern)


def _like(pattern: str, case: bool, budget: Budget) -> Doc:
    return {"$regex": f"^{_like_body(pattern, budget)}$", **({} if case else {"$options": "i"})}


def _last_part(op: str, arg: Any, prop: Prop, where: str, budget: Budget) -> Doc:
    """A condition on the last part of a path (a file's name), as an anchored, escaped pattern."""
    if op in ("eq", "neq"):
        bodies = [re.escape(_value(arg, prop, where))]
    elif op in ("inq", "nin"):
        if not isinstance(arg, list) or not 1 <= len(arg) <= MAX_VALUES:
            raise BadFilter(f"{where} takes a list of 1 to {MAX_VALUES} values")
        bodies = [re.escape(_value(a, prop, where)) for a in arg]
    elif op in ("like", "nlike", "ilike", "nilike"):
        bodies = [_like_body(_value(arg, prop, where), budget, "[^/]*", "[^/]")]
    else:
        raise BadFilter(f"{where}: operator {op!r} is not supported on a name (eq neq inq nin like nlike ilike nilike)")
    pattern = {"$regex": f"(?:^|/)(?:{'|'.join(bodies)})$", **({"$options": "i"} if op in ("ilike", "nilike") else {})}
    return {"$not": pattern} if op in ("neq", "nin", "nlike", "nilike") else pattern


def _operator(op: str, arg: Any, prop: Prop, name: str, budget: Budget) -> Doc:
    """One LoopBack operator on a property, as a MongoDB condition on its field."""
    where = f"{name}.{op}"
    if prop.last_part:
        return _last_part(op, arg, prop, where, budget)
    if op == "eq":
        return {"$eq": _value(arg, prop, where)}
    if op == "neq":
        return {"$ne": _value(arg, prop, where)}
    if op in _RANGES:
        if prop.kind not in ("number", "date"):
            raise BadFilter(f"{where}: {name} is not a number or a date")
        return {_RANGES[op]: _value(arg, prop, where)}
    if op == "between":
        if prop.kind not in ("number", "date") or not isinstance(arg, list) or len(arg) != 2:
            raise BadFilter(f"{where} takes [low, high] of numbers or dates")
        return {"$gte": _value(arg[0], prop, where), "$lte": _value(arg[1], prop, where)}
    if op in ("inq", "nin"):
        if not isinstance(arg, list) or not 1 <= len(arg) <= MAX_VALUES:
            raise BadFilter(f"{where} takes a list of 1 to {MAX_VALUES} values")
        return {"$in" if op == "inq" else "$nin": [_value(a, prop, where) for a in arg]}
    if op in ("like", "nlike", "ilike", "nilike"):
        if prop.kind != "text":
            raise BadFilter(f"{where}: {name} is not a text")
        pattern = _like(_value(arg, prop, where), op in ("like", "nlike"), budget)
        return pattern if op in ("like", "ilike") else {"$not": pattern}
    raise BadFilter(f"{where}: operator {op!r} is not supported (one of {', '.join(OPERATORS)})")


def _property(name: str, spec: Any, model: Model, budget: Budget) -> Doc:
    prop = model.props.get(name)
    if prop is None:
        raise BadFilter(f"{model.name} has no property {name!r} (one of {', '.join(model.props)}, "
                        "and/or, text)")
    label = f"{model.name}.{name}"
    if isinstance(spec, dict):
        if not spec:
            raise BadFilter(f"{label}: an empty condition")
        tests = [_operator(str(op), arg, prop, label, budget) for op, arg in spec.items()]
    elif isinstance(spec, list):
        raise BadFilter(f"{label}: a list is compared with inq, not as a whole")
    else:
        tests = [_operator("eq", spec, prop, label, budget)]
    if prop.const is not ABSENT:  # the same for every item: decided here
        item = {} if prop.const is None else {"v": prop.const}
        return {} if all(matches({"v": t}, item) for t in tests) else dict(NOTHING)
    if len(tests) == 1:
        return {prop.path: tests[0]}
    return {"$and": [{prop.path: t} for t in tests]}


def translate(where: Doc, model: Model, budget: Budget | None = None, depth: int = 1) -> Doc:
    """A ``where`` on ``model``'s properties as a store filter (its fields relative to the
    model's document: for techniques, files and persons, to one element of their list)."""
    budget = budget or Budget()
    parts: list[Doc] = []
    for key, spec in where.items():
        budget.clause(depth)
        if key in ("and", "or"):
            if not isinstance(spec, list) or not spec:
                raise BadFilter(f"{key} takes a list of conditions")
            subs = [translate(where_object(s, key), model, budget, depth + 1) for s in spec]
            parts.append({f"${key}": subs})
        elif key == "text":
            if not isinstance(spec, str) or not spec or len(spec) > MAX_TEXT_LENGTH:
                raise BadFilter(f"text takes a text of 1 to {MAX_TEXT_LENGTH} characters")
            if not model.text:
                parts.append(dict(NOTHING))
            else:
                contains = [{path: {"$regex": re.escape(spec), "$options": "i"}} for path in model.text]
                parts.append(contains[0] if len(contains) == 1 else {"$or": contains})
        else:
            parts.append(_property(str(key), spec, model, budget))
    if not parts:  # an empty where: no condition
        return {}
    return parts[0] if len(parts) == 1 else {"$and": parts}


def within(array: str, flt: Doc) -> Doc:
    """A filter on the elements of a list field (a dataset's ``techniques``, a datablock's
    ``dataFileList``): the list holds an element that matches. A flat filter is one
    ``$elemMatch``, binding its conditions to the same element; one with ``and``/``or`` is
    written on the list's fields (``dataFileList.path``), each condition met by any element,
    since SecantusDB takes no logical operator inside ``$elemMatch``."""
    if not flt:
        return {f"{array}.0": {"$exists": True}}
    if not any(k.startswith("$") for k in flt):
        return {array: {"$elemMatch": flt}}
    return _prefixed(flt, array)


def _prefixed(flt: Doc, prefix: str) -> Doc:
    out: Doc = {}
    for key, value in flt.items():
        if key in ("$and", "$or", "$nor"):
            out[key] = [_prefixed(f, prefix) for f in value]
        else:
            out[f"{prefix}.{key}"] = value
    return out


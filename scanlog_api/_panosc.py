"""The PaNOSC search API's filter language, read and translated into store filters.

The PaNOSC search API (github.com/panosc-eu/search-api, ``doc/query.md``) takes LoopBack's
``filter``: a JSON object with ``where``, ``include``, ``limit``, ``skip`` (and SciCat's
``query``). What is read here, and what each part becomes:

- ``where`` on a model's own properties (``pid``, ``title``, ...): a property's value is an
  equality, or an object of LoopBack operators (:data:`OPERATORS`: ``eq neq gt gte lt lte
  between inq nin like nlike ilike nilike``); ``and``/``or`` join clauses; ``text`` matches
  the model's text properties (a case-insensitive substring, as the reference's ``ilike
  %text%``). ``between`` is inclusive (LoopBack's); ``like`` patterns are SQL's (``%`` any
  run, ``_`` one character), anchored, and become an escaped pattern: typed text is never
  an operator or a regular expression. Any other operator (``regexp``, ``near``, ...) or an
  unknown property is refused, naming it.
- ``include`` of a relation with ``scope.where`` is an inner join, as in the reference
  (``common/mixins/sanitize.js``): only items with a related item that matches are found.
  A dataset's ``parameters`` scope is ``{name, value, unit}`` (or ``and`` of the three, or
  ``or`` of such): each becomes a condition of the scan table's engine (``_conditions``),
  so a value with a unit is converted with pint and compared with SciCat's ``valueSI``;
  several ``parameters`` inclusions must all hold (the reference's ``every``).
- Bounds: the filter is at most :data:`MAX_FILTER_CHARS` characters and
  :data:`MAX_DEPTH` deep, at most :data:`MAX_CLAUSES` clauses and ``MAX_CONDITIONS``
  parameter conditions; ``limit`` at most :data:`MAX_LIMIT` (:data:`DEFAULT_LIMIT` when
  not given; LoopBack's "everything" is not offered), ``skip`` at most :data:`MAX_SKIP`.

A filter that cannot be used is :class:`BadFilter` (HTTP 400, LoopBack's status for a bad
filter), its message naming the part. The catalogue is read with these filters by
``_panosc_search``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from ._conditions import MAX_CONDITIONS, MAX_TEXT_LENGTH, MAX_VALUES, Condition, Scalar
from ._errors import ScanlogError
from ._match import matches

Doc = dict[str, Any]

MAX_FILTER_CHARS = 10_000
MAX_DEPTH = 8
MAX_CLAUSES = 40
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
MAX_SKIP = 10_000
MAX_QUERY_CHARS = 200

#: LoopBack's operators this API answers (``regexp`` and ``near`` are not among them).
OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "between", "inq", "nin", "like", "nlike", "ilike", "nilike")
_RANGES = {"gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}
#: A parameter's value operators, as the scan table's condition operators.
_PARAMETER_OPS = {"eq": "eq", "neq": "ne", "gt": "gt", "gte": "ge", "lt": "lt", "lte": "le", "inq": "in"}
#: Matches nothing (a property every item holds with another value).
NOTHING: Doc = {"_id": {"$in": []}}
_FILTER_KEYS = ("where", "include", "limit", "skip", "query")
_SCOPE_KEYS = ("where", "include")


class BadFilter(ScanlogError):
    """A PaNOSC filter that cannot be used; the message names the part."""

    status = 400


Kind = Literal["text", "number", "bool", "date"]
_ABSENT: Any = object()


@dataclass(frozen=True)
class Prop:
    """A PaNOSC property: where the store keeps it and its type; or ``const``: a value every
    item has without it being stored (a Document's ``type``), tested here."""

    path: str
    kind: Kind
    const: Any = _ABSENT
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


# --- the filter ------------------------------------------------------------------------------

@dataclass
class Budget:
    """Clauses left in one request (every relation's together)."""

    clauses: int = MAX_CLAUSES
    conditions: int = MAX_CONDITIONS

    def clause(self, depth: int) -> None:
        self.clauses -= 1
        if self.clauses < 0:
            raise BadFilter(f"a filter holds at most {MAX_CLAUSES} clauses")
        if depth > MAX_DEPTH:
            raise BadFilter(f"a filter nests at most {MAX_DEPTH} deep")


@dataclass
class Include:
    """One ``include``: the relation, its scope's ``where`` (None: no condition) and its own includes."""

    relation: str
    where: Doc | None = None
    include: list[Include] = field(default_factory=list)


@dataclass
class Filter:
    """A parsed filter (``where`` still in PaNOSC terms: each model translates its own)."""

    where: Doc | None = None
    include: list[Include] = field(default_factory=list)
    limit: int = DEFAULT_LIMIT
    skip: int = 0
    query: str = ""

    def included(self, relation: str) -> list[Include]:
        return [i for i in self.include if i.relation == relation]


def parse_json(text: str | None, what: str) -> Any:
    """A query parameter's JSON (``filter`` or ``where``), bounded; None when not given."""
    if text is None or text == "":
        return None
    if len(text) > MAX_FILTER_CHARS:
        raise BadFilter(f"{what}: at most {MAX_FILTER_CHARS:,} characters")
    try:
        return json.loads(text)
    except RecursionError as err:
        raise BadFilter(f"{what}: nested too deep") from err
    except ValueError as err:
        raise BadFilter(f"{what} is not JSON: {err}") from err


def _unknown(keys: Any, known: tuple[str, ...], where: str) -> None:
    extra = [str(k) for k in keys if k not in known]
    if extra:
        raise BadFilter(f"{where}: {', '.join(map(repr, extra))} not understood (one of {', '.join(known)})")


def _count(value: Any, name: str, most: int) -> int:
    if isinstance(value, str) and value.isdigit():  # LoopBack reads "10" as 10
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadFilter(f"{name} is a whole number of 0 or more")
    if value > most:
        raise BadFilter(f"{name} is at most {most:,}")
    return value


def parse_filter(raw: Any, model: Model, query: str | None = None) -> Filter:
    """The ``filter`` parameter (already read as JSON) for ``model``, checked and bounded."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise BadFilter("filter is a JSON object: {\"where\": ..., \"include\": [...], \"limit\": n, \"skip\": n}")
    _unknown(raw, _FILTER_KEYS, "filter")
    out = Filter()
    if "limit" in raw and raw["limit"] not in (0, None):  # 0: "no limit" in the reference's words
        out.limit = _count(raw["limit"], "limit", MAX_LIMIT)
    if "skip" in raw and raw["skip"] is not None:
        out.skip = _count(raw["skip"], "skip", MAX_SKIP)
    text = query if query is not None else raw.get("query")
    if text is not None:
        if not isinstance(text, str) or len(text) > MAX_QUERY_CHARS:
            raise BadFilter(f"query is a text of at most {MAX_QUERY_CHARS} characters")
        out.query = text
    budget = Budget()
    if raw.get("where") is not None:
        out.where = _where_object(raw["where"], "where")
    out.include = _includes(raw.get("include"), model, "include", budget, 1)
    if out.where is not None:  # translated once here to check it; each model translates again where it reads
        translate(out.where, model, budget)
    return out


def _where_object(where: Any, name: str) -> Doc:
    if not isinstance(where, dict):
        raise BadFilter(f"{name} is a JSON object of conditions")
    return where


def _includes(raw: Any, model: Model, name: str, budget: Budget, depth: int) -> list[Include]:
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for n, given in enumerate(items):
        here = f"{name}[{n}]"
        item = {"relation": given} if isinstance(given, str) else given  # LoopBack's short form: include: "files"
        if not isinstance(item, dict):
            raise BadFilter(f"{here} is {{\"relation\": ..., \"scope\": {{...}}}}")
        _unknown(item, ("relation", "scope"), here)
        relation = item.get("relation")
        if relation not in model.relations:
            known = ", ".join(model.relations) or "none"
            raise BadFilter(f"{here}: {model.name} has no relation {relation!r} (its relations: {known})")
        budget.clause(depth)
        scope = item.get("scope") or {}
        if not isinstance(scope, dict):
            raise BadFilter(f"{here}.scope is a JSON object")
        _unknown(scope, _SCOPE_KEYS, f"{here}.scope")
        target = RELATED[(model.name, relation)]
        where = _where_object(scope["where"], f"{here}.scope.where") if scope.get("where") is not None else None
        inner = _includes(scope.get("include"), target, f"{here}.scope.include", budget, depth + 1)
        if where is not None:
            if target is PARAMETER:
                parameter_groups(where, budget, f"{here}.scope.where")
            else:
                translate(where, target, budget, depth + 1)
        out.append(Include(relation, where, inner))
    return out


# --- where on a model's properties -----------------------------------------------------------

def _value(value: Any, prop: Prop, name: str) -> Any:
    """One value of a condition, of the property's type (a date from ISO 8601)."""
    if prop.kind == "text" and isinstance(value, str) and len(value) <= MAX_TEXT_LENGTH:
        return value
    if prop.kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value):
        return value
    if prop.kind == "bool" and isinstance(value, bool):
        return value
    if prop.kind == "date" and isinstance(value, str) and len(value) <= 40:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return when.replace(tzinfo=UTC) if when.tzinfo is None else when
    expected = {"text": f"a text of at most {MAX_TEXT_LENGTH} characters", "number": "a number",
                "bool": "true or false", "date": "a date (ISO 8601)"}[prop.kind]
    raise BadFilter(f"{name}: {json.dumps(value)[:60]} is not {expected}")


def _like_body(pattern: str, run: str = ".*", one: str = ".") -> str:
    """SQL's LIKE pattern as an escaped regular expression: ``%`` any run, ``_`` one character."""
    return "".join(run if c == "%" else one if c == "_" else re.escape(c) for c in pattern)


def _like(pattern: str, case: bool) -> Doc:
    return {"$regex": f"^{_like_body(pattern)}$", **({} if case else {"$options": "i"})}


def _last_part(op: str, arg: Any, prop: Prop, where: str) -> Doc:
    """A condition on the last part of a path (a file's name), as an anchored, escaped pattern."""
    if op in ("eq", "neq"):
        bodies = [re.escape(_value(arg, prop, where))]
    elif op in ("inq", "nin"):
        if not isinstance(arg, list) or not 1 <= len(arg) <= MAX_VALUES:
            raise BadFilter(f"{where} takes a list of 1 to {MAX_VALUES} values")
        bodies = [re.escape(_value(a, prop, where)) for a in arg]
    elif op in ("like", "nlike", "ilike", "nilike"):
        bodies = [_like_body(_value(arg, prop, where), "[^/]*", "[^/]")]
    else:
        raise BadFilter(f"{where}: operator {op!r} is not supported on a name (eq neq inq nin like nlike ilike nilike)")
    pattern = {"$regex": f"(?:^|/)(?:{'|'.join(bodies)})$", **({"$options": "i"} if op in ("ilike", "nilike") else {})}
    return {"$not": pattern} if op in ("neq", "nin", "nlike", "nilike") else pattern


def _operator(op: str, arg: Any, prop: Prop, name: str) -> Doc:
    """One LoopBack operator on a property, as a MongoDB condition on its field."""
    where = f"{name}.{op}"
    if prop.last_part:
        return _last_part(op, arg, prop, where)
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
        pattern = _like(_value(arg, prop, where), case=op in ("like", "nlike"))
        return pattern if op in ("like", "ilike") else {"$not": pattern}
    raise BadFilter(f"{where}: operator {op!r} is not supported (one of {', '.join(OPERATORS)})")


def _property(name: str, spec: Any, model: Model) -> Doc:
    prop = model.props.get(name)
    if prop is None:
        raise BadFilter(f"{model.name} has no property {name!r} (one of {', '.join(model.props)}, "
                        "and/or, text)")
    label = f"{model.name}.{name}"
    if isinstance(spec, dict):
        if not spec:
            raise BadFilter(f"{label}: an empty condition")
        tests = [_operator(str(op), arg, prop, label) for op, arg in spec.items()]
    elif isinstance(spec, list):
        raise BadFilter(f"{label}: a list is compared with inq, not as a whole")
    else:
        tests = [_operator("eq", spec, prop, label)]
    if prop.const is not _ABSENT:  # the same for every item: decided here
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
            subs = [translate(_where_object(s, key), model, budget, depth + 1) for s in spec]
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
            parts.append(_property(str(key), spec, model))
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


# --- parameters: the scan table's conditions ------------------------------------------------

@dataclass(frozen=True)
class Atom:
    """One condition of the engine; ``negated``: the key is there and the condition fails (``nin``)."""

    condition: Condition
    negated: bool = False


#: A parameters scope in disjunctive form: any group holds when all its atoms do.
Groups = list[list[Atom]]


def _reasons(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'condition'}: {e['msg'].removeprefix('Value error, ')}"
                     for e in err.errors())


def _parts(where: Doc, name: str) -> dict[str, Any]:
    """``{name, value, unit}`` from the flat form or ``and`` of one-key objects."""
    if set(where) == {"and"}:
        merged: dict[str, Any] = {}
        for item in where["and"] if isinstance(where["and"], list) else [None]:
            if not isinstance(item, dict) or len(item) != 1:
                raise BadFilter(f"{name}.and takes objects of one key each: name, value or unit")
            (key, value), = item.items()
            if key in merged:
                raise BadFilter(f"{name}.and: {key!r} is given twice")
            merged[key] = value
        where = merged
    _unknown(where, ("name", "value", "unit"), name)
    return where


def parameter_groups(where: Doc, budget: Budget, name: str = "parameters") -> Groups:
    """A ``parameters`` scope's ``where`` as groups of the engine's conditions: ``{name, value,
    unit}`` (or ``and`` of them) is one group, ``or`` of such several."""
    if set(where) == {"or"}:
        if not isinstance(where["or"], list) or not where["or"]:
            raise BadFilter(f"{name}.or takes a list of parameter conditions")
        groups: Groups = []
        for n, item in enumerate(where["or"]):
            if not isinstance(item, dict) or "or" in item:
                raise BadFilter(f"{name}.or[{n}] is {{name, value, unit}} (or 'and' of them)")
            groups.extend(parameter_groups(item, budget, f"{name}.or[{n}]"))
        return groups
    return [_atoms(_parts(where, name), budget, name)]


def _atoms(parts: dict[str, Any], budget: Budget, name: str) -> list[Atom]:
    budget.clause(1)
    key, value, unit = parts.get("name"), parts.get("value", _ABSENT), parts.get("unit") or ""
    if not isinstance(key, str) or not key:
        raise BadFilter(f"{name}: a parameter's name was not provided")
    if value is _ABSENT or value is None:
        raise BadFilter(f"{name}: a parameter's value was not provided")
    if not isinstance(unit, str):
        raise BadFilter(f"{name}: unit is a text")
    label = f"parameter {key!r} {json.dumps(value)[:80]}{' ' + unit if unit else ''}"
    if isinstance(value, dict):
        if len(value) != 1:
            raise BadFilter(f"{label}: one operator per value")
        (op, arg), = value.items()
    else:
        op, arg = "eq", value
    specs: list[tuple[str, tuple[Any, ...], bool]]
    if op == "between":
        if not isinstance(arg, list) or len(arg) != 2:
            raise BadFilter(f"{label}: between takes [low, high]")
        specs = [("ge", (arg[0],), False), ("le", (arg[1],), False)]  # LoopBack's between is inclusive
    elif op in ("inq", "nin"):
        if not isinstance(arg, list):
            raise BadFilter(f"{label}: {op} takes a list of values")
        specs = [("in", tuple(arg), op == "nin")]
    elif op in _PARAMETER_OPS:
        specs = [(_PARAMETER_OPS[op], (arg,), False)]
    else:
        supported = ", ".join([*_PARAMETER_OPS, "between", "nin"])
        raise BadFilter(f"{label}: operator {op!r} is not supported on a parameter's value (one of {supported})")
    atoms = []
    for engine_op, values, negated in specs:
        budget.conditions -= 1
        if budget.conditions < 0:
            raise BadFilter(f"a filter holds at most {MAX_CONDITIONS} parameter conditions")
        if any(isinstance(v, (dict, list)) or v is None for v in values):
            raise BadFilter(f"{label}: a value is a number, a text or true/false")
        try:
            atoms.append(Atom(Condition(text=label, key=key, op=engine_op, unit=unit,
                                        values=tuple(_scalar(v) for v in values)), negated))
        except ValidationError as err:
            raise BadFilter(f"{label}: {_reasons(err)}") from err
    return atoms


def _scalar(value: Any) -> Scalar:
    if isinstance(value, float) and not math.isfinite(value):
        raise BadFilter(f"{value} is not a finite number")
    return value  # type: ignore[no-any-return]


def exists(condition: Condition) -> Condition:
    """The condition "the key is there" (what a negated atom also needs)."""
    return Condition(text=condition.text, key=condition.key, op="exists")


def conditions_of(groups: Groups) -> list[Condition]:
    """Every engine condition the groups need compiled, once each, in a stable order."""
    out: dict[Condition, None] = {}
    for group in groups:
        for atom in group:
            out[atom.condition] = None
            if atom.negated:
                out[exists(atom.condition)] = None
    return list(out)


def groups_filter(groups: Groups, compiled: dict[Condition, Doc]) -> Doc:
    """The store filter of the groups, from each condition's compiled filter."""
    def atom_filter(atom: Atom) -> Doc:
        positive = compiled[atom.condition]
        if not atom.negated:
            return positive
        return {"$and": [compiled[exists(atom.condition)], {"$nor": [positive]}]}

    ands = [{"$and": [atom_filter(a) for a in group]} if len(group) > 1 else atom_filter(group[0]) for group in groups]
    return ands[0] if len(ands) == 1 else {"$or": ands}


#: The parameters scope is read by :func:`parameter_groups`, not by :func:`translate`.
PARAMETER = Model("Parameter", {}, ())

#: What each relation's scope is read as.
RELATED: dict[tuple[str, str], Model] = {
    ("Dataset", "parameters"): PARAMETER, ("Dataset", "techniques"): TECHNIQUE, ("Dataset", "instrument"): INSTRUMENT,
    ("Dataset", "files"): FILE, ("Dataset", "samples"): SAMPLE, ("Dataset", "documents"): DOCUMENT,
    ("Document", "datasets"): DATASET, ("Document", "members"): MEMBER, ("Document", "parameters"): PARAMETER,
    ("Member", "person"): PERSON, ("Member", "affiliation"): Model("Affiliation", {"name": Prop("", "text", None)}, ()),
}

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

A filter that cannot be used is :class:`~scanlog_api._panosc_where.BadFilter` (HTTP 400,
LoopBack's status for a bad filter), its message naming the part. The models and their
``where`` are ``_panosc_where``'s; the catalogue is read with these filters by ``_panosc_search``.
"""


from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ._conditions import MAX_CONDITIONS, Condition, Scalar
from ._panosc_where import (
    ABSENT,
    AFFILIATION,
    DATASET,
    DOCUMENT,
    FILE,
    INSTRUMENT,
    MEMBER,
    PERSON,
    SAMPLE,
    TECHNIQUE,
    BadFilter,
    Budget,
    Doc,
    Model,
    storable,
    translate,
    unknown_keys,
    where_object,
)

MAX_FILTER_CHARS = 10_000
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
MAX_SKIP = 10_000
MAX_QUERY_CHARS = 200

#: A parameter's value operators, as the scan table's condition operators.
_PARAMETER_OPS = {"eq": "eq", "neq": "ne", "gt": "gt", "gte": "ge", "lt": "lt", "lte": "le", "inq": "in"}
_FILTER_KEYS = ("where", "include", "limit", "skip", "query")
_SCOPE_KEYS = ("where", "include")


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
    unknown_keys(raw, _FILTER_KEYS, "filter")
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
        out.where = where_object(raw["where"], "where")
    out.include = _includes(raw.get("include"), model, "include", budget, 1)
    if out.where is not None:  # translated once here to check it; each model translates again where it reads
        translate(out.where, model, budget)
    return out


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
        unknown_keys(item, ("relation", "scope"), here)
        relation = item.get("relation")
        if relation not in model.relations:
            known = ", ".join(model.relations) or "none"
            raise BadFilter(f"{here}: {model.name} has no relation {relation!r} (its relations: {known})")
        budget.clause(depth)
        scope = item.get("scope") or {}
        if not isinstance(scope, dict):
            raise BadFilter(f"{here}.scope is a JSON object")
        unknown_keys(scope, _SCOPE_KEYS, f"{here}.scope")
        target = RELATED[(model.name, relation)]
        where = where_object(scope["where"], f"{here}.scope.where") if scope.get("where") is not None else None
        inner = _includes(scope.get("include"), target, f"{here}.scope.include", budget, depth + 1)
        if where is not None:
            if target is PARAMETER:
                parameter_groups(where, budget, f"{here}.scope.where")
            else:
                translate(where, target, budget, depth + 1)
        out.append(Include(relation, where, inner))
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
    unknown_keys(where, ("name", "value", "unit"), name)
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
    key, value, unit = parts.get("name"), parts.get("value", ABSENT), parts.get("unit") or ""
    if not isinstance(key, str) or not key:
        raise BadFilter(f"{name}: a parameter's name was not provided")
    if value is ABSENT or value is None:
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
    if isinstance(value, int) and not isinstance(value, bool):
        return storable(value)
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
    ("Member", "person"): PERSON, ("Member", "affiliation"): AFFILIATION,
}

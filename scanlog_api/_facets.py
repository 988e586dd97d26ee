"""Facets of a selection: how many of its scans there are per beamline, proposal, status and
rating, and for a few metadata keys a value histogram (numbers) or the top values (text).

Pure: the store hands over the newest scans of the selection (``Scans.facet_sample``, through
the same access branches as the rows, so a scan the user may not read is never counted), and
this counts them. A large selection is counted over its newest :data:`MAX_FACET_SCAN` scans
and the answer says so (``counted`` of ``of``): the store's work stays bounded (SecantusDB
would read every match of an aggregation), and the newest scans are the ones a beamtime asks
about.

A histogram's bins are counted exactly as the conditions a bar adds select them
(``key:ge:lo:unit`` and ``key:lt:hi:unit``, ``le`` for the last bin; ``_conditions``): with a
unit, an entry's ``valueSI`` is compared with the edge converted to SI, and an entry without
``valueSI`` compares its ``value`` with the edge converted into its own unit; without one, the
value as stored. Half-open bins, not ``between``: ``between`` is strict on both ends (SciCat's
``RANGE``), so a scan exactly on an edge (8 keV in a bin from 8 to 9) would be in no bar's
selection. A scan counts once in each bin one of its values falls in.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scizoo.core import unit_problem

from ._conditions import MAX_UNIT_LENGTH, Condition, _from_si, _si_unit, _to_si
from ._match import outermost

Doc = dict[str, Any]

#: At most this many keys get a facet in one request.
MAX_FACET_KEYS = 4
#: A histogram has at most this many bins; a list of values at most MAX_TOP.
MAX_BINS = 20
MAX_TOP = 20
#: Facets are counted over at most this many of the selection's newest scans.
MAX_FACET_SCAN = 10_000
#: The key a scan's status is recorded under (scizoo.core's dataset builder).
STATUS_KEY = "scan_status"
_MISSING: Any = object()


class FacetError(ValueError):
    """A facet that cannot be counted; the message names it."""


class FacetKey(BaseModel):
    """A metadata key to count, and the unit its histogram is wanted in ("": the key's own)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    unit: str = ""


class ValueCount(BaseModel):
    value: Annotated[str | float | bool | None, Field(description="The value (null: scans without one).")]
    count: Annotated[int, Field(description="Scans counted with this value.")]


class Values(BaseModel):
    values: Annotated[list[ValueCount], Field(description="The most frequent values, most frequent first.")]
    more: Annotated[int, Field(description="Further distinct values, not listed.")] = 0


class Bin(BaseModel):
    lo: float
    hi: float
    count: Annotated[int, Field(description="Scans with a value lo <= v < hi (the last bin: <= hi).")]


class KeyFacet(BaseModel):
    key: str
    kind: Annotated[Literal["number", "text", "none"], Field(description="What the key's values mostly are.")]
    unit: Annotated[str, Field(description="The histogram's unit ('' : values as stored, without a unit).")]
    count: Annotated[int, Field(description="Counted scans that hold the key.")]
    bins: list[Bin] = []
    top: Values = Values(values=[])
    unconverted: Annotated[int, Field(
        description="Scans holding the key in no bin: values that are not numbers in this unit's dimension "
                    "(or beyond what it can show).")] = 0


class Facets(BaseModel):
    """The facets of a selection, counted over its newest ``counted`` scans of ``of``."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "counted": 3, "of": 3,
        "beamline": {"values": [{"value": "p01", "count": 3}], "more": 0},
        "proposal": {"values": [{"value": "20261234", "count": 2}, {"value": "20265678", "count": 1}], "more": 0},
        "status": {"values": [{"value": "finished", "count": 2}, {"value": "aborted", "count": 1}], "more": 0},
        "rating": {"values": [{"value": 2.5, "count": 1}, {"value": None, "count": 2}], "more": 0},
        "keys": [{"key": "photon_energy", "kind": "number", "unit": "keV", "count": 3, "unconverted": 0,
                  "bins": [{"lo": 8.0, "hi": 9.0, "count": 2}, {"lo": 9.0, "hi": 10.0, "count": 1}],
                  "top": {"values": [], "more": 0}}],
    }]})

    counted: Annotated[int, Field(description="Scans counted: the newest of the selection, at most "
                                              f"{MAX_FACET_SCAN:,}.")]
    of: Annotated[int, Field(description="Scans in the selection.")]
    beamline: Values
    proposal: Values
    status: Annotated[Values, Field(description=f"scientificMetadata.{STATUS_KEY}.value.")]
    rating: Annotated[Values, Field(description="dataQualityMetrics by half star (2.5: 2.5 to under 3); "
                                                "null: unrated.")]
    keys: list[KeyFacet]


def facet_keys(keys: list[str], units: list[str]) -> list[FacetKey]:
    """The keys asked for, each with the unit at the same position ('' or none: its own)."""
    if len(keys) > MAX_FACET_KEYS:
        raise FacetError(f"at most {MAX_FACET_KEYS} facet keys; {len(keys)} were given")
    if len(units) > len(keys):
        raise FacetError("a unit is given for a key at the same position: more units than keys")
    out = []
    for n, key in enumerate(keys):
        try:  # the conditions' rule for a key: a field name, never an operator
            Condition(text=key, key=key, op="exists")
        except ValidationError as err:
            raise FacetError(f"facet key {key[:60]!r}: {err.errors()[0]['msg'].removeprefix('Value error, ')}") from err
        unit = units[n].strip() if n < len(units) else ""
        if len(unit) > MAX_UNIT_LENGTH:
            raise FacetError(f"facet key {key!r}: a unit is at most {MAX_UNIT_LENGTH} characters")
        if unit and (problem := unit_problem(unit)) is not None:
            raise FacetError(f"facet key {key!r}: unknown unit {unit[:40]!r}: {problem}")
        if unit and _si_unit(unit) is None:
            raise FacetError(f"facet key {key!r}: unknown unit {unit[:40]!r}")
        out.append(FacetKey(key=key, unit=unit))
    return out


def facet_fields(keys: Iterable[FacetKey]) -> list[str]:
    """The fields the counting reads (for the store's projection; a path inside another one
    listed is left out, as MongoDB refuses both)."""
    fields = {"instrumentIds", "proposalIds", "dataQualityMetrics", f"scientificMetadata.{STATUS_KEY}",
              *(f"scientificMetadata.{k.key}" for k in keys)}
    return outermost(fields)


# --- reading values --------------------------------------------------------------------------

def _lookup(value: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _elements(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _plain_values(entry: Any) -> list[Any]:
    """Where a condition without a unit looks: a bare value, an entry's ``value`` and ``v``."""
    if isinstance(entry, dict):
        return [e for f in ("value", "v") if f in entry for e in _elements(entry[f])]
    return _elements(entry)


def _labels(values: Iterable[Any]) -> set[Hashable]:
    """The distinct text, number and boolean values (a scan counts once per value)."""
    return {v for v in values if isinstance(v, (str, bool)) or _is_number(v)}


def _values(counter: Counter[Any], top: int) -> Values:
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return Values(values=[ValueCount(value=v, count=n) for v, n in ranked[:top]], more=max(0, len(ranked) - top))


def _half_star(value: Any) -> float | None:
    return math.floor(value * 2) / 2 if _is_number(value) else None


# --- histograms -----------------------------------------------------------------------------

def _nice(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``x``: edges a
    person reads at a glance (and types back into a condition)."""
    base = 10.0 ** math.floor(math.log10(x))
    return next(m * base for m in (1, 2, 2.5, 5, 10) if m * base >= x * (1 - 1e-9))


def nice_edges(lo: float, hi: float, bins: int) -> list[float]:
    """At most ``bins`` bins of a round width covering ``lo`` to ``hi`` (the last bin closed)."""
    span = hi - lo
    try:
        step = _nice(span / bins if span > 0 else (abs(lo) / 10 or 1.0))
        while True:
            start = math.floor(lo / step) * step
            n = max(1, math.ceil((hi - start) / step))
            if n <= bins:
                break
            step = _nice(step * 1.000001)
        digits = max(0, 2 - math.floor(math.log10(step)))
        edges = [round(start + i * step, digits) for i in range(n + 1)]
    except (ArithmeticError, ValueError):  # a range beyond what floats step through: one bin
        return [lo, hi if hi > lo else lo + 1]
    edges[0], edges[-1] = min(edges[0], lo), max(edges[-1], hi)  # rounding never cuts a value off
    return edges


#: A scan's numbers for a key, with where the conditions compare them (its *space*): ("raw", "")
#: as stored (no unit), ("si", "") on valueSI, ("own", unit) an entry's value in its own unit.
_Space = tuple[str, str]
_Probe = tuple[_Space, list[float]]
#: pint parses a unit text each time: the few units of one key are asked for thousands of times.
_unit_si = lru_cache(maxsize=1024)(_si_unit)


def _probes(entry: Any, unit: str) -> list[_Probe] | None:
    """Where the conditions a bar adds compare this entry (None: nowhere, as a number)."""
    if not unit:
        numbers = [float(v) for v in _plain_values(entry) if _is_number(v)]
        return [(("raw", ""), numbers)] if numbers else None
    if not isinstance(entry, dict):
        return None
    si_unit = _unit_si(unit)
    if "valueSI" in entry:  # the conditions then look at valueSI only, on the same SI unit
        numbers = [float(v) for v in _elements(entry["valueSI"]) if _is_number(v)]
        return [(("si", ""), numbers)] if numbers and entry.get("unitSI") == si_unit else None
    own = entry.get("unit")
    if isinstance(own, str) and own and _unit_si(own) == si_unit:
        numbers = [float(v) for v in _elements(entry.get("value")) if _is_number(v)]
        if numbers:
            return [(("own", own), numbers)]
    return None


def _converter(space: _Space, unit: str) -> Callable[[float], float]:
    """An edge in the histogram's ``unit`` brought to where a space is compared, as the
    conditions bring their values (``_conditions``: to SI, then into an entry's own unit)."""
    kind, own = space
    if kind == "raw":
        return lambda e: e

    def to_si(e: float) -> float:
        si = _to_si(e, unit)
        return math.nan if si is None else si

    return to_si if kind == "si" else (lambda e: _from_si(to_si(e), own))


def _histogram(per_scan: list[list[_Probe]], unit: str, bins: int) -> tuple[list[Bin], int]:
    """The bins (from the range of the values, in the histogram's unit) and the scans in each;
    and how many scans are in none (a value beyond what the unit's floats hold), said, not dropped."""
    spaces = {space for probes in per_scan for space, _ in probes}
    convert = {s: _converter(s, unit) for s in spaces}
    # Each conversion is affine and increasing: a value goes back into the histogram's unit
    # through two points of it (for the range the bins are chosen from).
    points = {s: (convert[s](0.0), convert[s](1.0)) for s in spaces}
    shown = [(x - points[s][0]) / (points[s][1] - points[s][0])
             for probes in per_scan for s, numbers in probes if points[s][1] != points[s][0] for x in numbers]
    shown = [x for x in shown if math.isfinite(x)]
    if not shown:
        return [], len(per_scan)
    edges = nice_edges(min(shown), max(shown), bins)
    there = {s: [convert[s](e) for e in edges] for s in spaces}
    counts = [0] * (len(edges) - 1)
    missed = 0
    for probes in per_scan:
        hit: set[int] = set()
        for space, numbers in probes:
            at = there[space]
            for x in numbers:
                i = len(counts) - 1 if x == at[-1] else bisect_right(at, x) - 1
                if 0 <= i < len(counts):
                    hit.add(i)
        for i in hit:
            counts[i] += 1
        missed += not hit
    return [Bin(lo=edges[i], hi=edges[i + 1], count=c) for i, c in enumerate(counts)], missed


def _key_facet(docs: list[Doc], wanted: FacetKey, bins: int, top: int) -> KeyFacet:
    entries = [e for d in docs if (e := _lookup(d.get("scientificMetadata"), wanted.key)) is not _MISSING]
    units = Counter(e["unit"] for e in entries if isinstance(e, dict) and isinstance(e.get("unit"), str) and e["unit"])
    unit = wanted.unit or (units.most_common(1)[0][0] if units else "")
    if unit and _unit_si(unit) is None:  # a stored unit pint does not know: values as stored
        unit = ""
    numeric: list[list[_Probe]] = []
    texts: Counter[Hashable] = Counter()
    unconverted = 0
    for entry in entries:
        probes = _probes(entry, unit)
        if probes:
            numeric.append(probes)
            continue
        words = {v for v in _labels(_plain_values(entry)) if not _is_number(v)}
        texts.update(words)
        unconverted += not words and any(_is_number(v) for v in _plain_values(entry))
    text_scans = sum(1 for e in entries if any(not _is_number(v) for v in _labels(_plain_values(e))))
    if numeric and len(numeric) >= text_scans:
        histogram, missed = _histogram(numeric, unit, bins)
        return KeyFacet(key=wanted.key, kind="number", unit=unit, count=len(entries), bins=histogram,
                        unconverted=len(entries) - len(numeric) + missed)
    if texts:
        return KeyFacet(key=wanted.key, kind="text", unit="", count=len(entries), top=_values(texts, top))
    return KeyFacet(key=wanted.key, kind="none", unit=unit, count=len(entries), unconverted=unconverted)


def count_facets(docs: Iterable[Doc], keys: list[FacetKey], *, total: int, bins: int = 10,
                 top: int = 10) -> Facets:
    """The facets of these scans (the newest of a selection of ``total``)."""
    docs = list(docs)
    beamline: Counter[Hashable] = Counter()
    proposal: Counter[Hashable] = Counter()
    status: Counter[Hashable] = Counter()
    rating: Counter[float | None] = Counter()
    for d in docs:
        beamline.update({v for v in _elements(d.get("instrumentIds")) if isinstance(v, str)})
        proposal.update({v for v in _elements(d.get("proposalIds")) if isinstance(v, str)})
        found = _lookup(d.get("scientificMetadata"), STATUS_KEY)
        status.update(_labels(_plain_values(found)) if found is not _MISSING else set())
        rating[_half_star(d.get("dataQualityMetrics"))] += 1
    rated = sorted(rating.items(), key=lambda kv: (kv[0] is None, -(kv[0] or 0)))
    return Facets(counted=len(docs), of=max(total, len(docs)), beamline=_values(beamline, top),
                  proposal=_values(proposal, top), status=_values(status, top),
                  rating=Values(values=[ValueCount(value=v, count=n) for v, n in rated]),
                  keys=[_key_facet(docs, k, bins, top) for k in keys])

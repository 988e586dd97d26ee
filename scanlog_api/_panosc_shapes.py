"""The shapes of the PaNOSC search API's answers, and the score of a ``query``: pure functions
over the catalogue's documents (``_panosc_search`` reads them)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeGuard

from pymongo.collection import Collection

from scizoo.core import convert, to_si

from ._conditions import and_into
from ._match import matches
from ._panosc import Filter, Include
from ._panosc_where import PERSON, BadFilter, Doc, translate

#: Parameters of a nested scientificMetadata key are named down to this depth.
MAX_PARAMETER_DEPTH = 5


def iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else None


def clean(item: Doc) -> Doc:
    """LoopBack leaves out a property without a value."""
    return {k: v for k, v in item.items() if v is not None}


def _entry_value(entry: Any) -> tuple[Any, str] | None:
    """A scientificMetadata entry's value and unit ({value, unit}, SciCat's {v, u}); None: a nested object."""
    if isinstance(entry, dict):
        for value_key, unit_key in (("value", "unit"), ("v", "u")):
            if value_key in entry:
                unit = entry.get(unit_key)
                return entry[value_key], unit if isinstance(unit, str) else ""
        return None
    return entry, ""


def _in_unit(entry: Doc, wanted: str) -> float | None:
    """An entry's value in another unit: straight from its own number and unit (7130 eV is 7.13
    keV; back from the rounded ``valueSI`` it was 7.12999999999), else from its ``valueSI`` (an
    entry whose own unit pint cannot read); None when neither converts."""
    value, unit = entry.get("value"), entry.get("unit")
    if _number(value) and isinstance(unit, str):
        if unit == wanted:
            return float(value)
        if (direct := convert(float(value), unit, wanted)) is not None:
            return direct
    stored, stored_unit = entry.get("valueSI"), entry.get("unitSI")
    zero, one = to_si(0.0, wanted), to_si(1.0, wanted)
    if not _number(stored) or zero is None or one is None or one.unit != stored_unit or one.value == zero.value:
        return None
    return float(f"{(stored - zero.value) / (one.value - zero.value):.12g}")  # as to_si rounds: no float noise


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parameters(metadata: Any, units: dict[str, str]) -> list[Doc]:
    """A dataset's scientificMetadata as PaNOSC parameters; a name the filter gave a unit for
    is converted into it from ``valueSI`` (pint, through ``to_si``), as the API describes."""
    out: list[Doc] = []

    def walk(node: Any, prefix: str, depth: int) -> None:
        if not isinstance(node, dict) or depth > MAX_PARAMETER_DEPTH:
            return
        for key, entry in node.items():
            name = f"{prefix}{key}"
            found = _entry_value(entry)
            if found is None:
                walk(entry, f"{name}.", depth + 1)
                continue
            value, unit = found
            wanted = units.get(name)
            if wanted and isinstance(entry, dict):
                converted = _in_unit(entry, wanted)
                if converted is not None:
                    value, unit = converted, wanted
            out.append({"name": name, "value": value, "unit": unit})

    walk(metadata, "", 1)
    return out



def members(creators: list[Any], inc: Include) -> list[Doc]:
    person_where = next((i.where for i in inc.include if i.relation == "person"), None)
    test = translate(person_where, PERSON) if person_where else {}
    wants = {i.relation for i in inc.include}
    out = []
    for creator in creators:
        if not isinstance(creator, dict) or not matches(test, creator):
            continue
        member: Doc = {}
        if "person" in wants:
            orcid = next((str(n.get("nameIdentifier", "")).rsplit("/", 1)[-1]
                          for n in creator.get("nameIdentifiers") or [] if isinstance(n, dict)
                          and n.get("nameIdentifierScheme") == "ORCID"), None)
            member["person"] = clean({"fullName": creator.get("name"), "orcid": orcid})
        if "affiliation" in wants:
            names = [a.get("name") for a in creator.get("affiliation") or [] if isinstance(a, dict)]
            member["affiliation"] = clean({"name": next(iter(names), None)})
        out.append(member)
    return out


# --- query: a simple score ------------------------------------------------------------------

#: Where ``query``'s words are looked for.
DATASET_WORDS = ("datasetName", "description", "keywords")
DOCUMENT_WORDS = ("title", "abstract", "metadata.subjects.subject")
#: A query ranks at most this many of the newest candidates (those holding any of its words).
MAX_SCORED = 1_000
MAX_WORDS = 10


def words_of(query: str) -> list[str]:
    """A query's words, lower-case, each once, at most :data:`MAX_WORDS`."""
    words = list(dict.fromkeys(w.lower() for w in query.split()))
    if len(words) > MAX_WORDS:
        raise BadFilter(f"query: at most {MAX_WORDS} words")
    return words


def _texts(doc: Doc, fields: tuple[str, ...]) -> str:
    """The texts under the (dotted) fields, through lists, lower-case."""
    out: list[str] = []
    for name in fields:
        values: list[Any] = [doc]
        for part in name.split("."):
            values = [v.get(part) for v in values if isinstance(v, dict)]
            values = [x for v in values for x in (v if isinstance(v, list) else [v])]
        out.extend(v for v in values if isinstance(v, str))
    return "\n".join(out).lower()


def score(doc: Doc, fields: tuple[str, ...], words: list[str]) -> float:
    """The share of the query's words that the item's text holds (0 to 1)."""
    text = _texts(doc, fields)
    return round(sum(w in text for w in words) / len(words), 4) if words else 0.0


def ranked(collection: Collection[Doc], query: Doc, newest: list[tuple[str, int]], fields: tuple[str, ...],
            flt: Filter, shape: Callable[[list[Doc]], list[Doc]]) -> list[Doc]:
    """Items holding any of the query's words, best score first (then newest), as SciCat's
    scoring service orders them and leaves out those scoring 0. Only the newest
    :data:`MAX_SCORED` candidates are ranked: a page beyond them is empty."""
    words = words_of(flt.query)
    if not words:
        return []
    holds_any = {"$or": [{f: {"$regex": re.escape(w), "$options": "i"}} for f in fields for w in words]}
    candidates = list(collection.find(and_into(query, [holds_any])).sort(newest).limit(MAX_SCORED))
    scored = sorted(((score(d, fields, words), n, d) for n, d in enumerate(candidates)), key=lambda t: (-t[0], t[1]))
    page = [t for t in scored if t[0] > 0][flt.skip:flt.skip + flt.limit]
    out = shape([d for _, _, d in page])
    for item, (points, _, _) in zip(out, page, strict=True):
        item["score"] = points
    return out

"""The PaNOSC search API's filter language: what each filter becomes, units, bounds, refusals.

The filters are the reference's own (panosc-eu/search-api doc/*-example-queries.md and
test/*.test.js); what they select on real parts is tests/system/test_panosc.py's.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from scanlog_api._conditions import conditions_filters
from scanlog_api._match import matches
from scanlog_api._panosc import (
    MAX_FILTER_CHARS,
    MAX_LIMIT,
    conditions_of,
    groups_filter,
    parameter_groups,
    parse_filter,
    parse_json,
)
from scanlog_api._panosc_search import conjunction
from scanlog_api._panosc_shapes import _in_unit, parameters, score, words_of
from scanlog_api._panosc_where import DATASET, DOCUMENT, FILE, INSTRUMENT, MAX_CLAUSES, NOTHING, BadFilter, Budget, translate
from scizoo.core import to_si

# --- the reference's example filters ----------------------------------------------------------

PHOTON_ENERGY = {"include": [{"relation": "parameters", "scope": {"where": {"and": [
    {"name": "photon_energy"}, {"value": {"between": [880, 990]}}, {"unit": "eV"}]}}}]}
TEMPERATURE = {"include": [{"relation": "parameters", "scope": {"where": {"and": [
    {"name": "temperature"}, {"value": {"lt": 80}}, {"unit": "celsius"}]}}}]}
SOLID_OR_COPPER = {"include": [{"relation": "parameters", "scope": {"where": {"or": [
    {"and": [{"name": "sample_state"}, {"value": "solid"}]},
    {"and": [{"name": "chemical_formula"}, {"value": "Cu"}]}]}}}]}
TECHNIQUE = {"include": [{"relation": "techniques", "scope": {"where": {"name": "x-ray absorption"}}}]}
FILES = {"include": [{"relation": "files", "scope": {"where": {"text": "file1"}}}]}
DOCUMENT_DATASETS = {"include": [{"relation": "datasets", "scope": {"include": [{"relation": "parameters", "scope": {
    "where": {"and": [{"name": "wavelength"}, {"value": {"between": [1000, 1100]}}, {"unit": "nm"}]}}}]}}]}
PROPOSAL_MEMBERS = {"where": {"type": "proposal"}, "include": [{"relation": "datasets"}, {
    "relation": "members", "scope": {"where": {"role": "principal investigator"}, "include": [
        {"relation": "person", "scope": {"where": {"fullName": "James Chadwick"}}}]}}]}
INSTRUMENT_PAGE = {"where": {"facility": "ESS"}, "skip": 0, "limit": 3}


def _entry(value: Any, unit: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"value": value, "unit": unit}
    if (si := to_si(value, unit)) is not None:
        out["valueSI"], out["unitSI"] = si.value, si.unit
    return out


def _params(where: dict[str, Any], docs: list[dict[str, Any]]) -> list[bool]:
    """Whether each document's metadata meets a parameters scope, through the engine."""
    groups = parameter_groups(where, Budget())
    conditions = conditions_of(groups)
    units = {c.key: {d["scientificMetadata"][c.key]["unit"] for d in docs if c.key in d["scientificMetadata"]}
             for c in conditions if c.unit}
    compiled = dict(zip(conditions, conditions_filters(conditions, units), strict=True))
    query = groups_filter(groups, compiled)
    return [matches(query, d) for d in docs]


@pytest.mark.parametrize("flt", [PHOTON_ENERGY, TEMPERATURE, SOLID_OR_COPPER, TECHNIQUE, FILES,
                                 {"where": {"creationDate": {"gte": "2020-01-01T00:00:00Z"}}, "limit": 10}])
def test_the_references_dataset_filters_are_read(flt: dict[str, Any]) -> None:
    parsed = parse_filter(json.loads(json.dumps(flt)), DATASET)
    assert [i.relation for i in parsed.include] == [i["relation"] for i in flt.get("include", [])]


def test_the_references_document_and_instrument_filters_are_read() -> None:
    assert parse_filter(DOCUMENT_DATASETS, DOCUMENT).include[0].include[0].relation == "parameters"
    members = parse_filter(PROPOSAL_MEMBERS, DOCUMENT)
    assert translate(members.where or {}, DOCUMENT) == NOTHING  # every Document here is a publication
    page = parse_filter(INSTRUMENT_PAGE, INSTRUMENT)
    assert (page.skip, page.limit) == (0, 3)
    assert translate({"facility": "ESS"}, INSTRUMENT) == {"facility": {"$eq": "ESS"}}


# --- where on properties: every operator ---------------------------------------------------------

WHEN = "2026-03-01T12:00:00Z"
AT = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(("where", "expected"), [
    ({"title": "scan 1"}, {"datasetName": {"$eq": "scan 1"}}),
    ({"title": {"eq": "scan 1"}}, {"datasetName": {"$eq": "scan 1"}}),
    ({"title": {"neq": "scan 1"}}, {"datasetName": {"$ne": "scan 1"}}),
    ({"size": {"gt": 10}}, {"size": {"$gt": 10}}),
    ({"size": {"gte": 10}}, {"size": {"$gte": 10}}),
    ({"size": {"lt": 10.5}}, {"size": {"$lt": 10.5}}),
    ({"size": {"lte": 10}}, {"size": {"$lte": 10}}),
    ({"size": {"between": [1, 5]}}, {"size": {"$gte": 1, "$lte": 5}}),  # LoopBack's between: inclusive
    ({"creationDate": {"gt": WHEN}}, {"creationTime": {"$gt": AT}}),
    ({"creationDate": {"between": [WHEN, WHEN]}}, {"creationTime": {"$gte": AT, "$lte": AT}}),
    ({"pid": {"inq": ["a", "b"]}}, {"_id": {"$in": ["a", "b"]}}),
    ({"pid": {"nin": ["a"]}}, {"_id": {"$nin": ["a"]}}),
    ({"title": {"like": "scan%1_"}}, {"datasetName": {"$regex": "^scan.*1.$"}}),
    ({"title": {"ilike": "a.b%"}}, {"datasetName": {"$regex": "^a\\.b.*$", "$options": "i"}}),
    ({"title": {"nlike": "x%"}}, {"datasetName": {"$not": {"$regex": "^x.*$"}}}),
    ({"title": {"nilike": "x"}}, {"datasetName": {"$not": {"$regex": "^x$", "$options": "i"}}}),
    ({"isPublic": True}, {"isPublished": {"$eq": True}}),
    ({"text": "a(b"}, {"datasetName": {"$regex": "a\\(b", "$options": "i"}}),
    ({"and": [{"size": 1}, {"title": "t"}]}, {"$and": [{"size": {"$eq": 1}}, {"datasetName": {"$eq": "t"}}]}),
    ({"or": [{"size": 1}, {"size": 2}]}, {"$or": [{"size": {"$eq": 1}}, {"size": {"$eq": 2}}]}),
    ({"size": {"gt": 1, "lt": 5}}, {"$and": [{"size": {"$gt": 1}}, {"size": {"$lt": 5}}]}),
])
def test_each_operator_becomes_its_store_condition(where: dict[str, Any], expected: dict[str, Any]) -> None:
    assert translate(where, DATASET) == expected


def test_a_constant_property_is_decided_here() -> None:
    assert translate({"type": "publication"}, DOCUMENT) == {}
    assert translate({"type": {"inq": ["proposal", "publication"]}}, DOCUMENT) == {}
    assert translate({"type": "proposal"}, DOCUMENT) == NOTHING
    assert translate({"isPublic": False}, DOCUMENT) == NOTHING


def test_a_files_name_is_its_paths_last_part() -> None:
    test = translate({"name": "panosc-file1.hdf"}, FILE)
    assert matches(test, {"path": "/data/x/panosc-file1.hdf"}) and matches(test, {"path": "panosc-file1.hdf"})
    assert not matches(test, {"path": "/data/panosc-file1.hdf/other"})
    assert not matches(test, {"path": "/data/apanosc-file1.hdf"})
    like = translate({"name": {"like": "%.hdf"}}, FILE)
    assert matches(like, {"path": "/d/a.hdf"}) and not matches(like, {"path": "/d.hdf/a.nxs"})
    assert not matches(translate({"name": {"nin": ["a.hdf"]}}, FILE), {"path": "/d/a.hdf"})


def test_typed_text_is_never_a_pattern_or_an_operator() -> None:
    like = translate({"title": {"like": ".*"}}, DATASET)
    assert matches(like, {"datasetName": ".*"}) and not matches(like, {"datasetName": "anything"})
    text = translate({"text": "$where"}, DATASET)
    assert matches(text, {"datasetName": "a $WHERE b"}) and not matches(text, {"datasetName": "where"})
    with pytest.raises(BadFilter, match="no property '\\$where'"):
        translate({"$where": "sleep(1000)"}, DATASET)
    with pytest.raises(BadFilter, match="operator '\\$gt' is not supported"):
        translate({"size": {"$gt": 1}}, DATASET)
    with pytest.raises(BadFilter, match="not a text"):
        translate({"title": {"eq": {"$ne": None}}}, DATASET)


@pytest.mark.parametrize(("where", "message"), [
    ({"title": {"regexp": "^a"}}, "operator 'regexp' is not supported"),
    ({"title": {"near": [1, 2]}}, "operator 'near' is not supported"),
    ({"nope": 1}, "Dataset has no property 'nope'"),
    ({"size": "ten"}, "Dataset.size.eq: \"ten\" is not a number"),
    ({"creationDate": {"gt": "yesterday"}}, "not a date"),
    ({"title": {"gt": "a"}}, "title is not a number or a date"),
    ({"size": {"between": [1]}}, "between takes \\[low, high\\]"),
    ({"pid": {"inq": []}}, "inq takes a list of 1 to"),
    ({"pid": ["a", "b"]}, "a list is compared with inq"),
    ({"size": {"like": "1%"}}, "size is not a text"),
    ({"and": []}, "and takes a list of conditions"),
    ({"or": {"size": 1}}, "or takes a list"),
    ({"text": ""}, "text takes a text of 1 to"),
    ({"title": {}}, "an empty condition"),
    ({"title": "x" * 201}, "at most 200 characters"),
])
def test_a_bad_where_is_refused_naming_its_part(where: dict[str, Any], message: str) -> None:
    with pytest.raises(BadFilter, match=message) as err:
        translate(where, DATASET)
    assert err.value.status == 400


# --- the filter as a whole: bounds --------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    ("{", "filter is not JSON"),
    ("[1]", "filter is a JSON object"),
    ('{"order": "title"}', "'order' not understood"),
    ('{"fields": {"pid": true}}', "'fields' not understood"),
    (f'{{"limit": {MAX_LIMIT + 1}}}', f"limit is at most {MAX_LIMIT}"),
    ('{"limit": -1}', "limit is a whole number"),
    ('{"skip": 10001}', "skip is at most 10,000"),
    ('{"include": [{"relation": "proposals"}]}', "Dataset has no relation 'proposals'"),
    ('{"include": [{"relation": "files", "scope": {"fields": ["name"]}}]}', "'fields' not understood"),
    ('{"include": [{"relation": "parameters", "scope": {"where": {"value": 1}}}]}', "name was not provided"),
    ('{"include": [{"relation": "parameters", "scope": {"where": {"name": "e"}}}]}', "value was not provided"),
    ('{"query": ' + json.dumps("q" * 201) + "}", "query is a text of at most"),
    ("[" * 5000 + "]" * 5000, "nested too deep|filter is a JSON object"),
    ("x" * (MAX_FILTER_CHARS + 1), "at most 10,000 characters"),
])
def test_a_bad_filter_is_refused(text: str, message: str) -> None:
    with pytest.raises(BadFilter, match=message):
        parse_filter(parse_json(text, "filter"), DATASET)


def test_a_filter_is_bounded_in_clauses_and_depth() -> None:
    many = {"or": [{"size": n} for n in range(MAX_CLAUSES + 1)]}
    with pytest.raises(BadFilter, match=f"at most {MAX_CLAUSES} clauses"):
        parse_filter({"where": many}, DATASET)
    deep: dict[str, Any] = {"size": 1}
    for _ in range(10):
        deep = {"and": [deep]}
    with pytest.raises(BadFilter, match="nests at most"):
        parse_filter({"where": deep}, DATASET)
    params = {"or": [{"name": f"k{n}", "value": n} for n in range(9)]}
    with pytest.raises(BadFilter, match="at most 8 parameter conditions"):
        parse_filter({"include": [{"relation": "parameters", "scope": {"where": params}}]}, DATASET)


def test_the_defaults_of_a_page() -> None:
    flt = parse_filter(None, DATASET)
    assert (flt.limit, flt.skip, flt.where, flt.include) == (100, 0, None, [])
    assert parse_filter({"limit": 0}, DATASET).limit == 100  # 0 is "no limit" to LoopBack: the default here
    assert parse_filter({"limit": "7", "skip": "3"}, DATASET).limit == 7  # LoopBack reads numbers in text
    assert parse_filter({"include": ["files"]}, DATASET).include[0].relation == "files"  # the short form


# --- parameters: the scan table's conditions, with units -----------------------------------------

def _doc(**meta: dict[str, Any]) -> dict[str, Any]:
    return {"scientificMetadata": meta}


def test_a_parameter_in_ev_matches_a_value_stored_in_kev() -> None:
    docs = [_doc(photon_energy=_entry(0.93, "keV")), _doc(photon_energy=_entry(1.2, "keV")),
            _doc(photon_energy=_entry(880, "eV")), _doc(photon_energy=_entry(990, "eV")),
            _doc(photon_energy=_entry(900, "K"))]
    where = PHOTON_ENERGY["include"][0]["scope"]["where"]  # type: ignore[index]
    assert _params(where, docs) == [True, False, True, True, False]  # inclusive, and a kelvin is no energy


def test_a_temperature_in_celsius_matches_kelvin() -> None:
    docs = [_doc(temperature=_entry(20, "celsius")), _doc(temperature=_entry(300, "K")),
            _doc(temperature=_entry(400, "K"))]
    assert _params(TEMPERATURE["include"][0]["scope"]["where"], docs) == [True, True, False]  # type: ignore[index]


def test_or_of_parameters_and_text_values() -> None:
    docs = [_doc(sample_state=_entry("solid")), _doc(chemical_formula=_entry("Cu")),
            _doc(sample_state=_entry("liquid"), chemical_formula=_entry("Fe"))]
    assert _params(SOLID_OR_COPPER["include"][0]["scope"]["where"], docs) == [True, True, False]  # type: ignore[index]


@pytest.mark.parametrize(("value", "expected"), [
    (5, [False, True, False, False]),
    ({"eq": 5}, [False, True, False, False]),
    ({"neq": 5}, [True, False, True, False]),  # the key is there and is not 5
    ({"gt": 5}, [True, False, False, False]),
    ({"gte": 5}, [True, True, False, False]),
    ({"lt": 5}, [False, False, True, False]),
    ({"lte": 5}, [False, True, True, False]),
    ({"between": [2, 5]}, [False, True, True, False]),
    ({"inq": [2, 7]}, [True, False, True, False]),
    ({"nin": [2, 7]}, [False, True, False, False]),  # like neq: only scans that have the key
])
def test_every_parameter_operator(value: Any, expected: list[bool]) -> None:
    docs = [_doc(n=_entry(7)), _doc(n=_entry(5)), _doc(n=_entry(2)), _doc(other=_entry(5))]
    assert _params({"name": "n", "value": value}, docs) == expected


def test_a_nested_key_by_its_dotted_name() -> None:
    docs = [{"scientificMetadata": {"sample": {"temperature": _entry(20, "K")}}},
            {"scientificMetadata": {"sample": {"temperature": _entry(30, "K")}}}]
    assert _params({"name": "sample.temperature", "value": {"lt": 25}, "unit": "K"}, docs) == [True, False]


@pytest.mark.parametrize(("where", "message"), [
    ({"name": "e", "value": {"like": "a%"}}, "operator 'like' is not supported on a parameter's value"),
    ({"name": "e", "value": {"regexp": "a"}}, "operator 'regexp' is not supported"),
    ({"name": "e", "value": {"gt": 1, "lt": 2}}, "one operator per value"),
    ({"name": "e", "value": {"gt": "a"}}, "gt compares numbers"),
    ({"name": "e", "value": "solid", "unit": "eV"}, "a unit goes with numbers only"),
    ({"name": "$where", "value": 1}, "is not a metadata key"),
    ({"name": "e", "value": {"inq": [{"$gt": 1}]}}, "a value is a number, a text or true/false"),
    ({"name": "e", "value": 1, "units": "eV"}, "'units' not understood"),
    ({"and": [{"name": "e"}, {"name": "f"}]}, "'name' is given twice"),
    ({"and": [{"name": "e", "value": 1}]}, "objects of one key each"),
    ({"or": [{"or": [{"name": "e", "value": 1}]}]}, "is \\{name, value, unit\\}"),
])
def test_a_bad_parameter_condition_is_refused(where: dict[str, Any], message: str) -> None:
    with pytest.raises(BadFilter, match=message):
        parameter_groups(where, Budget())


def test_parameters_come_back_in_the_unit_asked() -> None:
    meta = {"photon_energy": _entry(0.93, "keV"), "state": _entry("solid"), "count": 3, "short": {"v": 2, "u": "mm"},
            "sample": {"temperature": _entry(20, "degC")}, "motor": _entry([1, 2], "mm")}
    out = parameters(meta, {"photon_energy": "eV", "sample.temperature": "K", "state": "eV"})
    assert out == [
        {"name": "photon_energy", "value": 930.0, "unit": "eV"},
        {"name": "state", "value": "solid", "unit": ""},  # no number: as stored
        {"name": "count", "value": 3, "unit": ""},
        {"name": "short", "value": 2, "unit": "mm"},
        {"name": "sample.temperature", "value": 293.15, "unit": "K"},
        {"name": "motor", "value": [1, 2], "unit": "mm"},
    ]
    assert _in_unit(_entry(20, "K"), "eV") is None  # not comparable: left as stored
    assert _in_unit(_entry(5, "keV"), "keV") == 5.0
    # straight from the measured number, not back from the rounded valueSI (was 7.12999999999)
    assert [_in_unit(_entry(v, "eV"), "keV") for v in (7130.0, 7110.0, 12000.0)] == [7.13, 7.11, 12.0]
    assert _in_unit(_entry(0.1, "mm"), "um") == 100.0 and _in_unit(_entry(-253, "degC"), "K") == 20.15
    # another writer's entry with valueSI only (no number of its own) is still converted from it
    assert _in_unit({"value": "n/a", "unit": "eV", "valueSI": 1.602176634e-16, "unitSI": "(kg m^2) / s^2"}, "keV") == 1.0


def test_a_query_scores_the_share_of_its_words() -> None:
    doc = {"datasetName": "Powder diffraction of Cu", "keywords": ["XRD", "copper"], "description": None}
    fields = ("datasetName", "description", "keywords")
    assert score(doc, fields, words_of("powder copper")) == 1.0
    assert score(doc, fields, words_of("Powder  powder neutrons")) == 0.5  # each word once
    assert score({"metadata": {"subjects": [{"subject": "XPS"}]}}, ("metadata.subjects.subject",), ["xps"]) == 1.0
    with pytest.raises(BadFilter, match="at most 10 words"):
        words_of(" ".join(f"w{n}" for n in range(11)))


def test_values_the_store_could_not_take_are_made_storable_or_refused() -> None:
    assert translate({"size": 10**30}, DATASET) == {"size": {"$eq": 1e30}}  # beyond 64 bits: a float
    (atom,), = parameter_groups({"name": "n", "value": {"gt": 10**30}}, Budget())
    assert atom.condition.values == (1e30,)
    assert translate({}, DATASET) == {}
    with pytest.raises(BadFilter, match="not a date"):
        translate({"creationDate": {"gt": "0001-01-01T00:00:00+01:00"}}, DATASET)  # before year 1 in UTC
    assert translate({"creationDate": {"gt": "2026-03-01T13:00:00+01:00"}}, DATASET) == {"creationTime": {"$gt": AT}}


def test_a_range_on_one_field_stays_one_flat_condition() -> None:
    # A store serves a flat conjunction from an index; SecantusDB reads the whole selection for $and.
    low = {"m.valueSI": {"$gte": 1.0}, "m.unitSI": "J"}
    high = {"m.valueSI": {"$lte": 2.0}, "m.unitSI": "J"}
    assert conjunction([{"$and": [low, high]}]) == [{"m.valueSI": {"$gte": 1.0, "$lte": 2.0}, "m.unitSI": "J"}]
    assert conjunction([low, {"m.valueSI": {"$gte": 3.0}}]) == [low, {"m.valueSI": {"$gte": 3.0}}]  # kept apart
    assert conjunction([low, {"m.unitSI": "K"}]) == [low, {"m.unitSI": "K"}]
    assert conjunction([low, {"$or": [high]}]) == [low, {"$or": [high]}]
    docs = [{"m": {"valueSI": v, "unitSI": "J"}} for v in (0.5, 1.5, 2.5)]
    for parts in ([low, high], [{"$and": [low, high]}]):
        flat = conjunction(parts)
        assert [matches({"$and": flat}, d) for d in docs] == [matches({"$and": parts}, d) for d in docs]


@pytest.mark.parametrize("pattern", ["%a%b%c%d", "%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%x%y%z%w", "%_%_%_%_"])
def test_a_like_pattern_is_bounded_before_any_regular_expression_is_built(pattern: str) -> None:
    # 150 '%' made a pattern Python's engine backtracked through for ever, holding the GIL: an
    # anonymous request froze the process. Runs of '%' are one; more than 3 runs are refused.
    for model, field in ((DATASET, "title"), (FILE, "name")):
        with pytest.raises(BadFilter, match="like pattern holds at most 3 runs"):
            translate({field: {"like": pattern}}, model)


def test_runs_of_percent_are_one() -> None:
    assert translate({"title": {"like": "%%%scan%%1"}}, DATASET) == {"datasetName": {"$regex": "^.*scan.*1$"}}

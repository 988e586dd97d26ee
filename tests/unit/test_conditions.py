"""Metadata conditions: parsing, the filter each becomes, and what it selects (by ``_match``,
the evaluator the live stream uses; the store's agreement is tests/system/test_conditions.py)."""

from __future__ import annotations

from typing import Any

import pytest

from scanlog_api._conditions import (
    MAX_ALTERNATIVES,
    MAX_CONDITIONS,
    MAX_TESTS,
    ConditionError,
    and_into,
    check_known_keys,
    condition_filter,
    key_units,
    keys_with_units,
    parse_condition,
    parse_conditions,
)
from scanlog_api._match import matches
from scizoo.core import to_si


def entry(value: Any, unit: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"value": value, "unit": unit}
    if (si := to_si(value, unit)) is not None:
        out["valueSI"], out["unitSI"] = si.value, si.unit
    return out


DOCS = {
    "e8keV": {"scientificMetadata": {"photon_energy": entry(8.5, "keV"), "shutter": entry("closed")}},
    "e9000eV": {"scientificMetadata": {"photon_energy": entry(9000.0, "eV"), "shutter": entry("Open")}},
    "e12keV": {"scientificMetadata": {"photon_energy": entry(12.0, "keV")}},
    "temp_K": {"scientificMetadata": {"photon_energy": entry(20.0, "K")}},  # same key, another dimension
    "motor_mm": {"scientificMetadata": {"motor": entry([1.0, 9.0], "mm")}},  # a list: no valueSI
    "motor_um": {"scientificMetadata": {"motor": entry([4000.0, 5000.0], "um")}},
    "bare": {"scientificMetadata": {"count": 7, "tags": ["ab", "Cd"]}},  # another writer's bare values
    "short": {"scientificMetadata": {"count": {"v": 3, "u": ""}}},  # SciCat's short form
    "nested": {"scientificMetadata": {"sample": {"temperature": entry(20.0, "K"), "name": entry("Si")}}},
    "text8": {"scientificMetadata": {"label": entry("8")}},
    "num8": {"scientificMetadata": {"label": entry(8)}},
    # nested objects holding lists, bare and as entries (another writer's shape)
    "deep": {"scientificMetadata": {"scan": {"sample": {"positions": entry([1.0, 5.0, 30.0], "mm"),
                                                        "tags": ["hot", "Thin film"]}},
                                    "detector": {"roi": [10, 20]}}},
    # a list of objects: a key is followed into each object (as the store follows a path)
    "detectors": {"scientificMetadata": {"detectors": [{"name": entry("eiger"), "exposure": entry(0.5, "s")},
                                                       {"name": entry("pilatus"), "exposure": entry(2.0, "s")},
                                                       {"name": entry("mythen")}]}},
}
UNITS = {"photon_energy": ["keV", "eV", "K"], "motor": ["mm", "um"], "sample.temperature": ["K"],
         "scan.sample.positions": ["mm"], "detectors.exposure": ["s"]}


def select(text: str) -> set[str]:
    cond = parse_condition(text)
    query = condition_filter(cond, UNITS.get(cond.key, ()))
    return {name for name, doc in DOCS.items() if matches(query, doc)}


@pytest.mark.parametrize(("text", "expected"), [
    ("photon_energy:between:8:10:keV", {"e8keV", "e9000eV"}),
    ("photon_energy:between:8000:10000:eV", {"e8keV", "e9000eV"}),
    ("photon_energy:gt:8.5:keV", {"e9000eV", "e12keV"}),
    ("photon_energy:ge:8.5:keV", {"e8keV", "e9000eV", "e12keV"}),
    ("photon_energy:≤:9:keV", {"e8keV", "e9000eV"}),
    ("photon_energy:=:9:keV", {"e9000eV"}),
    ("photon_energy:ne:9:keV", {"e8keV", "e12keV", "temp_K"}),  # has the key, and is not 9 keV
    ("photon_energy:in:9,12:keV", {"e9000eV", "e12keV"}),
    ("photon_energy:lt:-253:degC", {"temp_K"}),  # 20 K < 20.15 K, compared in SI
    ("photon_energy:between:8:12:keV", {"e8keV", "e9000eV"}),  # strict, as SciCat's RANGE
    ("photon_energy:gt:100", {"e9000eV"}),  # no unit: the value as stored
    ("photon_energy:exists", {"e8keV", "e9000eV", "e12keV", "temp_K"}),
    # lists (no valueSI): their value in their own unit; one element inside both bounds
    ("motor:between:3:6:mm", {"motor_um"}),
    ("motor:between:0.5:2:mm", {"motor_mm"}),
    ("motor:gt:8:mm", {"motor_mm"}),
    ("motor:gt:8000:um", {"motor_mm"}),
    ("motor:between:2:8:mm", {"motor_um"}),  # [1, 9] mm: neither element is inside
    ("motor:eq:9", {"motor_mm"}),
    # bare values, text
    ("count:ge:7", {"bare"}),
    ("count:lt:7", {"short"}),
    ("tags:contains:c", {"bare"}),
    ("tags:in:ab,x", {"bare"}),
    ("shutter:contains:OPEN", {"e9000eV"}),
    ("shutter:=:closed", {"e8keV"}),
    ("shutter:ne:closed", {"e9000eV"}),
    # nested keys
    ("sample.temperature:lt:-200:degC", {"nested"}),
    ("sample.name:in:Si,Ge", {"nested"}),
    # a number and a text that reads as one are told apart
    ("label:eq:8", {"num8"}),
    ('label:eq:"8"', {"text8"}),
    # nested keys holding lists: one element decides, in the entry's own unit or as stored
    ("scan.sample.positions:between:2:10:mm", {"deep"}),
    ("scan.sample.positions:between:0.002:0.01:m", {"deep"}),
    ("scan.sample.positions:between:6:29:mm", set()),  # 5 and 30 are outside, 1 too
    ("scan.sample.positions:gt:2.5:cm", {"deep"}),
    ("scan.sample.positions:eq:5", {"deep"}),
    ("scan.sample.tags:contains:FILM", {"deep"}),
    ("scan.sample.tags:in:cold,hot", {"deep"}),
    ("scan.sample.tags:ne:hot", set()),  # one element is hot: eq holds, so ne does not
    ("detector.roi:ge:20", {"deep"}),
    ("detector.roi:lt:10", set()),
    ("scan.sample:exists", {"deep"}),
    # through a list of objects: one object decides each test, and (the store's meaning, which
    # the live stream's evaluator follows) each bound of a range may be met by another object
    ("detectors.exposure:lt:600:ms", {"detectors"}),
    ("detectors.exposure:gt:1:s", {"detectors"}),
    ("detectors.exposure:gt:3:s", set()),
    ("detectors.exposure:between:0.6:1.9:s", {"detectors"}),  # 2.0 > 0.6 in one, 0.5 < 1.9 in another
    ("detectors.name:eq:pilatus", {"detectors"}),
    ("detectors.name:ne:eiger", set()),  # one object is eiger
    ("detectors.name:contains:THEN", {"detectors"}),
    ("detectors.exposure:exists", {"detectors"}),
    ("detectors.exposure:eq:2|eq:7", {"detectors"}),
    # OR within one key: any of the tests after '|'
    ("photon_energy:between:8:9:keV|between:11:13:keV", {"e8keV", "e12keV"}),
    ("photon_energy:lt:8.6:keV|ge:11000:eV", {"e8keV", "e12keV"}),
    ("photon_energy:eq:9:keV|lt:-253:degC", {"e9000eV", "temp_K"}),
    ("photon_energy:gt:100|eq:8.5", {"e9000eV", "e8keV"}),  # no unit: as stored
    ("shutter:eq:closed|contains:pe", {"e8keV", "e9000eV"}),
    ("shutter:ne:closed|ne:Open", {"e8keV", "e9000eV"}),  # each has the key and is not one of them
    ("motor:between:0.5:2:mm|between:3:6:mm", {"motor_mm", "motor_um"}),
    ("scan.sample.positions:lt:0|gt:25:mm", {"deep"}),
    ("count:exists|eq:3", {"bare", "short"}),
])
def test_each_operator_selects_what_it_says(text: str, expected: set[str]) -> None:
    assert select(text) == expected


def test_conditions_are_anded_and_kept_flat_where_they_can_be() -> None:
    conds = parse_conditions(["photon_energy:ge:8:keV", "photon_energy:lt:10:keV"])
    # no unit known to fall back on: one flat conjunction each, the second under $and
    query = and_into({"proposalIds": "A"}, [condition_filter(c) for c in conds])
    assert query["proposalIds"] == "A" and "scientificMetadata.photon_energy.valueSI" in query
    assert len(query["$and"]) == 1
    assert {n for n, d in DOCS.items() if matches(query, {**d, "proposalIds": "A"})} == {"e8keV", "e9000eV"}


def test_the_si_comparison_is_scicats() -> None:
    query = condition_filter(parse_condition("photon_energy:gt:8:keV"))
    si = to_si(8, "keV")
    assert si is not None
    assert query == {"scientificMetadata.photon_energy.valueSI": {"$gt": si.value},
                     "scientificMetadata.photon_energy.unitSI": si.unit}


def test_a_unit_condition_stays_flat_when_every_entry_of_its_key_has_value_si() -> None:
    """Entries without valueSI are compared in their own unit only when there are such entries:
    the units the selection holds for them (``without_si``) decide the alternatives; the units
    it holds at all still refuse an incompatible one. A flat filter is one a store can plan from
    its indexes (SecantusDB reads the whole collection for a top-level $or/$and)."""
    cond = parse_condition("photon_energy:between:8:10:keV")
    query = condition_filter(cond, ["keV", "eV", "K"], without_si=[])
    lo, hi = to_si(8, "keV"), to_si(10, "keV")
    assert lo is not None and hi is not None
    assert query == {"scientificMetadata.photon_energy.valueSI": {"$gt": lo.value, "$lt": hi.value},
                     "scientificMetadata.photon_energy.unitSI": lo.unit}
    assert {n for n, d in DOCS.items() if matches(query, d)} == {"e8keV", "e9000eV"}
    # an entry without valueSI in one compatible unit: one own-unit alternative, for that unit
    mixed = condition_filter(parse_condition("motor:gt:8:mm"), ["mm", "um"], without_si=["um", "K"])
    assert [a.get("scientificMetadata.motor.unit") for a in mixed["$or"]] == [None, "um"]
    with pytest.raises(ConditionError, match="not compatible"):
        condition_filter(parse_condition("motor:gt:8:K"), ["mm", "um"], without_si=[])
    # unknown (None): every compatible unit held may have entries without valueSI
    assert len(condition_filter(cond, ["keV", "eV", "K"])["$or"]) == 3


@pytest.mark.parametrize(("text", "reason"), [
    ("motor:gt:8:K", "not compatible"),
    ("photon_energy:gt:8:furlongs_per_fortnight_x", "unknown unit"),
    ("photon_energy:gt:8:(", "unknown unit"),  # pint's parser raises other errors for these
    ("photon_energy:gt:8:1%2F0", "unknown unit"),
    ("photon_energy:gt:8:kg**1000000", "unknown unit"),
    ("photon_energy:eq:1" + "0" * 400, "too large"),
    ("photon_energy:eq:1" + "0" * 5000, "too large"),  # past Python's 4,300 digits: was a 500
    ("photon_energy:gt:1:9**9**9", "unknown unit"),  # pint would compute 9^(9^9): hours, holding the GIL
    ("photon_energy:gt:1:3^3^14", "unknown unit"),
    ("photon_energy:like:8", "op"),
    ("photon_energy:gt:abc", "compares numbers"),
    ("photon_energy:gt:1e999", "finite"),
    ("photon_energy:between:10:8:keV", "lo < hi"),
    ("photon_energy:between:8", "two numbers"),
    ("photon_energy:exists:1", "no value"),
    ("photon_energy:contains:8", "text"),
    ("photon_energy", "key:op"),
    ("shutter:eq:closed:keV", "numbers only"),
    ("a:eq:c:d:e", "too many"),
    ("a:b:c:d:e:f", "not an op"),
    ("$where:eq:1", "not a metadata key"),
    ("a.$gt:eq:1", "not a metadata key"),
    ("a..b:eq:1", "not a metadata key"),
    ("photon_energy:in:" + ",".join(["1"] * 51), "50"),
])
def test_a_condition_that_cannot_be_used_is_refused_by_name(text: str, reason: str) -> None:
    with pytest.raises(ConditionError) as caught:
        cond = parse_condition(text)
        condition_filter(cond, UNITS.get(cond.key, ()))
    assert reason in str(caught.value) and "condition" in str(caught.value)
    assert text[:30] in str(caught.value)


def test_conditions_are_bounded() -> None:
    with pytest.raises(ConditionError, match=f"at most {MAX_CONDITIONS}"):
        parse_conditions(["a:exists"] * (MAX_CONDITIONS + 1))


def test_typed_text_is_never_an_operator_or_a_pattern() -> None:
    # a text that is a MongoDB operator document or a regular expression stays a text
    query = condition_filter(parse_condition('shutter:eq:{"$ne"%3A null}'))
    assert query["$or"][1] == {"scientificMetadata.shutter.value": {"$eq": '{"$ne": null}'}}
    assert select("shutter:contains:.*") == set()
    assert select("shutter:contains:clo") == {"e8keV"}
    regex = condition_filter(parse_condition("shutter:contains:a.b(c"))["$or"][1]
    assert regex == {"scientificMetadata.shutter.value": {"$regex": r"a\.b\(c", "$options": "i"}}
    assert select("shutter:in:.*,$ne") == set()


def test_percent_encoding_lets_a_part_hold_the_separators() -> None:
    cond = parse_condition("slit%3Awidth:in:a%2Cb,c%3Ad%25:")
    assert cond.key == "slit:width" and cond.values == ("a,b", "c:d%")
    assert parse_condition("t:between:-1.5:2e1:degC").values == (-1.5, 20.0)
    assert parse_condition("flag:eq:true").values == (True,)
    assert parse_condition("n:eq:" + "9" * 30).values == (float("9" * 30),)  # beyond int64: a float


def test_or_joins_tests_on_one_key_and_is_written_once() -> None:
    cond = parse_condition("photon_energy:between:8:9:keV|between:11:12:keV|lt:1")
    assert [(t.op, t.values, t.unit) for t in cond.tests()] == [
        ("between", (8, 9), "keV"), ("between", (11, 12), "keV"), ("lt", (1,), "")]
    assert all(t.key == "photon_energy" and t.text == cond.text for t in cond.tests())
    assert keys_with_units([parse_condition("count:lt:1|gt:2:keV")]) == ["count"]
    # the alternatives' filters are one $or, flat
    query = condition_filter(cond, ["keV"])
    assert list(query) == ["$or"] and not any(list(q) == ["$or"] for q in query["$or"])
    # a '|' inside a text is written %7C; without one the condition is today's
    assert parse_condition("shutter:eq:a%7Cb").values == ("a|b",)
    assert parse_condition("photon_energy:gt:8:keV").alternatives == ()


@pytest.mark.parametrize(("text", "reason"), [
    ("photon_energy:gt:8:keV||lt:2:keV", "empty test"),
    ("photon_energy:gt:8:keV|", "empty test"),
    ("photon_energy:gt:8:keV|between:9:8:keV", "lo < hi"),
    ("photon_energy:gt:8:keV|lt:2:mm", "not compatible"),
    ("photon_energy:gt:8:keV|near:2", "op"),
    ("photon_energy:gt:8:keV|photon_energy:lt:2:keV", "op"),  # the key is written once
    ("photon_energy:gt:8|lt:x", "compares numbers"),
    ("photon_energy:" + "|".join(["gt:1"] * (MAX_ALTERNATIVES + 1)), f"at most {MAX_ALTERNATIVES}"),
])
def test_a_bad_alternative_is_refused_naming_the_whole_condition(text: str, reason: str) -> None:
    with pytest.raises(ConditionError) as caught:
        cond = parse_condition(text)
        condition_filter(cond, UNITS.get(cond.key, ()))
    assert reason in str(caught.value) and f"condition {text[:40]}" in str(caught.value).replace("'", "")


def test_tests_are_bounded_across_conditions_with_their_alternatives() -> None:
    half = "photon_energy:" + "|".join(["gt:1"] * (MAX_TESTS // 2))
    assert len(parse_conditions([half, half])) == 2
    with pytest.raises(ConditionError, match=f"at most {MAX_TESTS} tests"):
        parse_conditions([half, half, "count:exists"])


def test_an_unknown_key_is_refused_by_name() -> None:
    conds = parse_conditions(["photon_energy:gt:8:keV", "photon_enrgy:exists|eq:1"])
    check_known_keys(conds[:1], {"photon_energy"})
    with pytest.raises(ConditionError) as caught:
        check_known_keys(conds, {"photon_energy", "motor"})
    assert str(caught.value) == ("condition 'photon_enrgy:exists|eq:1': no scan you may read has the key "
                                 "'photon_enrgy'")


def test_the_keys_a_condition_can_name_are_listed_nested_with_their_units() -> None:
    meta = {
        "photon_energy": entry(9.0, "keV"),
        "count": 7, "tags": ["a", "b"], "short": {"v": 3, "u": "mm"},
        "scan": {"sample": {"positions": entry([1.0, 2.0], "mm"), "name": {"value": "Si"}}, "n": 2},
        "$bad": 1, "a": {"b": {"c": {"d": {"e": {"f": 1}}}}},  # a $ key and one too deep are left out
        "odd": {"value": 1, "unit": 5},
    }
    assert dict(key_units(meta)) == {
        "photon_energy": "keV", "count": "", "tags": "", "short": "mm", "scan.sample.positions": "mm",
        "scan.sample.name": "", "scan.n": "", "odd": ""}
    assert list(key_units(None)) == [] and list(key_units([1, 2])) == []
    assert dict(key_units({"a": {"b": {"c": {"d": {"e": 1}}}}})) == {"a.b.c.d.e": ""}  # 5 deep: a key


@pytest.mark.parametrize(("text", "unit", "stored"), [("motor:ge:0.1:mm", "um", 100), ("t:ge:0.3:K", "degC", -272.85),
                                                      ("e:ge:1.1:keV", "eV", 1100)])
def test_a_value_brought_into_an_entrys_own_unit_carries_no_float_noise(text: str, unit: str, stored: float) -> None:
    """0.1 mm in um is 100.00000000000001 when computed through SI, and an entry of 100 um (a list,
    so no valueSI) was not ">= 0.1 mm". Rounded to 12 digits, as ``to_si`` rounds its SI values."""
    cond = parse_condition(text)
    key = cond.key
    query = condition_filter(cond, [unit], without_si=[unit])
    doc = {"scientificMetadata": {key: {"value": [stored], "unit": unit}}}
    assert matches(query, doc), query

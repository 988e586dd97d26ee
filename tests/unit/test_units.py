"""``unitSI`` spelled as the SciCat backend spells it, so that its unit-aware search finds our values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scizoo.core._units import convert, scicat_unit_si, to_si

#: What mathjs (the backend's) answers for each unit: tests/unit/make_mathjs_units.py.
MATHJS = json.loads((Path(__file__).parent / "mathjs_units.json").read_text())


@pytest.mark.parametrize("unit", sorted(u for u, answer in MATHJS["units"].items() if answer is not None))
def test_unit_si_is_spelled_as_the_scicat_backend_spells_it(unit: str) -> None:
    answer = MATHJS["units"][unit]
    si = to_si(1, unit)
    assert si is not None, f"pint does not read {unit!r}"
    assert si.unit == answer["unitSI"]
    # The values agree to mathjs's constants: its electronvolt is CODATA 2010's (1.602176565e-19 J),
    # pint's CODATA 2018's (1.602176634e-19 J), 4e-8 apart; its torr is rounded (133.322 Pa,
    # pint's 101325/760 = 133.32237 Pa), 3e-6 apart. A search at a boundary can differ that much.
    assert si.value == pytest.approx(answer["valueSI"], rel=ROUNDED_BY_MATHJS.get(unit, 1e-7))


#: Units whose constant mathjs rounds, and how far apart the two are allowed to be.
ROUNDED_BY_MATHJS = {"torr": 3e-6}


def test_the_mathjs_answers_cover_what_beamlines_record() -> None:
    known = {u for u, answer in MATHJS["units"].items() if answer is not None}
    assert {"eV", "keV", "K", "degC", "mm", "deg", "Pa", "mbar", "V", "Hz", "A", "s"} <= known
    assert len(known) >= 50


def test_the_rule_for_each_shape_of_unit() -> None:
    assert scicat_unit_si({}) == ""
    assert scicat_unit_si({"meter": 1}) == "m"
    assert scicat_unit_si({"meter": 3.0}) == "m^3"
    assert scicat_unit_si({"second": -1.0}) == "s^-1"
    assert scicat_unit_si({"second": -2.0, "meter": -1.0}) == "m^-1 s^-2"  # mathjs's order, not pint's
    assert scicat_unit_si({"second": -2.0, "kilogram": 1.0, "meter": 2.0}) == "(kg m^2) / s^2"
    assert scicat_unit_si({"kilogram": 1.0, "meter": -1.0, "second": -2.0}) == "kg / (m s^2)"
    assert scicat_unit_si({"meter": 0.5}) == "m^0.5"
    assert scicat_unit_si({"count": 1, "second": -1.0}) == "count / s"  # a base unit mathjs lacks: pint's name


def test_the_migration_respells_only_what_pint_spelled_and_guards_on_it() -> None:
    from scizoo.core._migrations import unit_si_update

    doc = {"_id": "p/1", "scientificMetadata": {
        "energy": {"value": 8, "unit": "keV", "unitSI": "kg*m**2/s**2"},
        "already": {"value": 8, "unit": "keV", "unitSI": "(kg m^2) / s^2"},
        "by_hand": {"value": 8, "unit": "keV", "unitSI": "J"},
        "unknown": {"value": 3, "unit": "cts", "unitSI": "cts"},
        "runs": {"value": [{"rate": {"value": 1, "unit": "Hz", "unitSI": "1/s"}}]}}}
    assert unit_si_update(doc) == {
        "q": {"_id": "p/1", "scientificMetadata.energy.unitSI": "kg*m**2/s**2",
              "scientificMetadata.runs.value.0.rate.unitSI": "1/s"},
        "u": {"$set": {"scientificMetadata.energy.unitSI": "(kg m^2) / s^2",
                       "scientificMetadata.runs.value.0.rate.unitSI": "s^-1"}}}
    assert unit_si_update({"_id": "p/2", "scientificMetadata": {"already": doc["scientificMetadata"]["already"]}}) is None


def test_a_value_converts_straight_from_unit_to_unit() -> None:
    assert convert(7130.0, "eV", "keV") == 7.13 and convert(20.0, "degC", "K") == 293.15
    assert convert(1.0, "mbar", "Pa") == 100.0 and convert(3.0, "", "") == 3.0
    assert convert(1.0, "K", "eV") is None and convert(1.0, "nonsense", "K") is None
    assert convert(float("nan"), "K", "K") is None

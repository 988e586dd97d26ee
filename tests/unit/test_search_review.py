"""Adversarial review of issue 20's search engine (units, conditions, facets, PaNOSC filters):
typed text never becomes a runaway computation, an operator or a pattern."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scanlog_api._conditions import ConditionError, _si_unit, condition_filter, parse_condition
from scanlog_api._facets import FacetError, facet_keys
from scizoo.core import unit_problem

#: Towers of powers that scizoo.core's runaway guard let through (parentheses, pint's words):
#: pint would compute 9**(9**9) and beyond, holding the GIL for hours.
TOWERS = ["m^((9))^((9))^9", "((((((9^99))^99))^99))^99", "9^(2*9)^9", "m^-(2)^9", "m^2^3", "(m^2)^3"]


def _returns_within(code: str, seconds: float) -> None:
    """Run ``code`` in a child process that must end, without error, within ``seconds``: a unit
    pint would compute for hours holds the GIL, so no thread of the test itself could stop it."""
    done = subprocess.run([sys.executable, "-c", code], timeout=seconds, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_reading_a_tower_of_powers_as_a_unit_returns_at_once() -> None:
    """In a child process with a deadline: before the guard, the first unit never returned,
    typed (a condition's, a facet's) or stored by another writer (the units a condition's key
    holds, the unit a facet reads, a PaNOSC parameter shown in another unit)."""
    code = ("from scanlog_api._conditions import _si_unit, condition_filter, parse_condition\n"
            "from scanlog_api._facets import FacetKey, count_facets\n"
            "from scanlog_api._panosc_shapes import parameters\n"
            f"for u in {TOWERS!r}:\n"
            "    assert _si_unit(u) is None, u\n"
            "    condition_filter(parse_condition('e:gt:1:keV'), units=[u, 'eV'])\n"
            "    doc = {'scientificMetadata': {'e': {'value': 2, 'unit': u}}}\n"
            "    count_facets([doc], [FacetKey(key='e')], total=1)\n"
            "    parameters(doc['scientificMetadata'], {'e': 'keV'})\n")
    _returns_within(code, 60)


def test_capture_and_the_migration_read_a_tower_of_powers_at_once_too() -> None:
    """The guard is in scizoo.core's conversion itself: a configured unit (capture builds
    valueSI), a stored one (the catalogue migration respells unitSI) and a PaNOSC conversion
    are safe alike. Before it was moved there, these never returned."""
    code = ("from datetime import UTC, datetime\n"
            "from scizoo.core import RecordedEntry, ScanMetadata, Proposal, CatalogueSettings, build_dataset, convert\n"
            "from scizoo.core import to_si\n"
            "from scizoo.core._units import pint_unit_si\n"
            "from tests.helpers import make_scan\n"
            f"for u in {TOWERS!r}:\n"
            "    assert to_si(2.0, u) is None and pint_unit_si(u) is None and convert(1.0, u, 'm') is None, u\n"
            "    m = ScanMetadata(message_id='m', beamline='b', source='manual', proposal_id='P', data_path='/d',\n"
            "                     scan=make_scan(1), produced_at=datetime.now(UTC),\n"
            "                     entries=[RecordedEntry(name='e', device='d/e/1', attribute='a', value=2.0, unit=u)])\n"
            "    meta = build_dataset(m, Proposal(proposalId='P'), CatalogueSettings()).to_mongo()['scientificMetadata']\n"
            "    assert 'valueSI' not in meta['e'], meta\n")
    _returns_within(code, 60)


def test_a_stored_unit_of_another_writer_is_not_read_beyond_its_bound() -> None:
    assert unit_problem("m" * 65) == "longer than 64 characters"


def test_a_long_stored_unit_is_refused_before_any_pattern_reads_it() -> None:
    """The bound comes first in the conversion itself: a pattern over the text can backtrack over a
    long run of spaces after a power (the old runaway pattern took 8 s for 20,000, quadratic), so a
    long unit another writer stored is refused by its length before any pattern reads it."""
    code = ("from scizoo.core import convert, to_si\n"
            "from scizoo.core._units import pint_unit_si\n"
            "for u in ['^' + ' ' * 60000 + 'm', ('**' + ' ' * 15000) * 4]:\n"
            "    assert to_si(2.0, u) is None and pint_unit_si(u) is None and convert(1.0, u, 'm') is None\n")
    _returns_within(code, 20)


@pytest.mark.parametrize("unit", TOWERS)
def test_a_tower_of_powers_is_named_in_the_refusal(unit: str) -> None:
    assert unit_problem(unit) is not None
    with pytest.raises(ConditionError, match=r"unknown unit .*power"):
        condition_filter(parse_condition(f"photon_energy:gt:1:{unit}"), units=["eV"])
    with pytest.raises(FacetError, match="unknown unit"):
        facet_keys(["photon_energy"], [unit])


@pytest.mark.parametrize(("unit", "si"), [
    ("keV", "(kg m^2) / s^2"), ("kg m^2 s^-2", "(kg m^2) / s^2"), ("kg/(m s^2)", "kg / (m s^2)"), ("m²", "m^2"),
    ("m⁻¹", "m^-1"), ("m^(1/2)", "m^0.5"), ("m**0.5", "m^0.5"), ("m ** 2", "m^2"), ("um^3", "m^3"),
    ("(m/s)^2", "m^2 / s^2"), ("degC", "K"), ("1/s", "s^-1"), ("m³", "m^3"), ("s⁻²", "s^-2"), ("cm^-1", "m^-1"),
    ("m^(-1/2)", "m^-0.5"), ("W m^-2 sr^-1", "kg / (s^3 rad^2)")])
def test_units_as_people_write_them_still_convert(unit: str, si: str) -> None:
    assert unit_problem(unit) is None
    assert _si_unit(unit) == si


def test_a_long_stored_unit_is_never_kept_by_the_unit_caches() -> None:
    """Another writer's unit may be as long as a document: refused before the caches, so a few
    thousand of them cannot pin gigabytes."""
    from scizoo.core import _units

    before = (_units._bounded_si_factor.cache_info().currsize, _units._pint_spelling.cache_info().currsize)
    long_units = [f"{'m' * 100_000}{n}" for n in range(20)]
    assert all(_units.to_si(1.0, u) is None and _units.pint_unit_si(u) is None for u in long_units)
    after = (_units._bounded_si_factor.cache_info().currsize, _units._pint_spelling.cache_info().currsize)
    assert after == before

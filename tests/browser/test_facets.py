"""The facets panel in a real browser (Debian's chromium through Playwright) on the real store:
counts of what the user may read beside the table, and a click on a status, a histogram bar or a
beamline narrows the rows to exactly what it counted."""

from __future__ import annotations

import pytest

from scizoo.core import DATASET_COLLECTION
from tests.browser.test_conditions import SCANS, _chips, _rows_are, _scan
from tests.system.test_scan_api import _dataset

pytestmark = pytest.mark.system

#: scan -> (beamline, status); energies and temperatures as test_conditions' SCANS.
PLACES = {1: ("p01", "finished"), 2: ("p01", "finished"), 3: ("p01", "aborted"), 4: ("p02", "finished"),
          5: ("p02", "aborted")}


def _doc(n: int, proposal: str = "A") -> dict:
    energy, kelvin = SCANS.get(n, (9.0, None))
    doc = _scan(n, energy, kelvin, _dataset(n, proposal))
    beamline, status = PLACES.get(n, ("secret", "finished"))
    doc["instrumentIds"] = [beamline]
    doc["scientificMetadata"]["scan_status"]["value"] = status
    return doc


def _facet(page, section: str) -> dict[str, int]:
    """A section's values and counts, as the panel shows them."""
    found = page.locator("#facet-body section.facet").filter(has=page.locator(f"h3:text-is('{section}')"))
    labels = found.locator(".facet-label").all_inner_texts()
    counts = found.locator(".facet-v .n").all_inner_texts()
    return dict(zip(labels, map(int, counts), strict=True))


def _click(page, section: str, label: str) -> None:
    found = page.locator("#facet-body section.facet").filter(has=page.locator(f"h3:text-is('{section}')"))
    found.locator(f".facet-label:text-is('{label}')").click()


def _note_is(page, text: str) -> None:
    page.wait_for_function("(t) => document.getElementById('facet-note').textContent === t", arg=text, timeout=10000)


def test_a_click_on_a_facet_narrows_the_rows_to_what_it_counted(page, server: str, db) -> None:
    db[DATASET_COLLECTION].insert_many([_doc(n) for n in PLACES] + [_doc(9, "B")])  # 9: bob's, on 'secret'
    page.goto(f"{server}/#token=ta")
    _rows_are(page, [1, 2, 3, 4, 5])
    _note_is(page, "5 scans")
    # Only what alice may read is counted: bob's scan and its beamline are nowhere.
    assert _facet(page, "Beamline") == {"p01": 3, "p02": 2}
    assert _facet(page, "Status") == {"finished": 3, "aborted": 2}
    assert _facet(page, "Proposal") == {"A": 5}

    # A status adds a condition through the builder: its chip, the rows, the facets of the rest.
    _click(page, "Status", "aborted")
    _rows_are(page, [3, 5])
    assert _chips(page) == ["scan_status = aborted"]
    _note_is(page, "2 scans")
    assert _facet(page, "Beamline") == {"p01": 1, "p02": 1}
    page.get_by_role("button", name="remove condition scan_status = aborted").click()
    _rows_are(page, [1, 2, 3, 4, 5])

    # A key's histogram, in eV though the key is stored in keV; a bar adds its range.
    page.fill("#facet-key", "photon_energy")
    page.click("#facet-add")
    page.wait_for_selector("#facet-body section[data-key=photon_energy] .facet-v")
    assert _facet(page, "photon_energy") == {"8.5 – 9 keV": 1, "9 – 9.5 keV": 2, "9.5 – 10 keV": 1, "10 – 10.5 keV": 0,
                                             "10.5 – 11 keV": 0, "11 – 11.5 keV": 0, "11.5 – 12 keV": 1}
    # In another unit: the same scans, in bins of eV.
    page.select_option("#facet-body section[data-key=photon_energy] select", "eV")
    page.wait_for_selector("#facet-body .facet-label:text-is('9000 – 9500 eV')")
    in_ev = _facet(page, "photon_energy")
    assert sum(in_ev.values()) == 5 and all(label.endswith(" eV") for label in in_ev), in_ev
    page.select_option("#facet-body section[data-key=photon_energy] select", "keV")
    page.wait_for_selector("#facet-body .facet-label:text-is('9 – 9.5 keV')")
    _click(page, "photon_energy", "9 – 9.5 keV")
    _rows_are(page, [1, 5])
    assert _chips(page) == ["photon_energy ≥ 9 keV", "photon_energy < 9.5 keV"]
    _note_is(page, "2 scans")

    # A beamline sets the beamline filter.
    _click(page, "Beamline", "p02")
    _rows_are(page, [5])
    assert page.input_value("#f-beamline") == "p02"
    _note_is(page, "1 scan")
    assert _facet(page, "Beamline") == {"p02": 1}

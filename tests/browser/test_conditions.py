"""The scan table's condition builder in a real browser (Debian's chromium through Playwright) on
the real store: conditions with units in the builder, chips, the address that shares them, the
live stream that follows them, the API's objection beside the builder."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from scizoo.core import DATASET_COLLECTION, to_si
from tests.browser.conftest import PageProblems
from tests.browser.test_scan_table import _now_dataset
from tests.system.test_scan_api import _dataset

pytestmark = pytest.mark.system

#: scan -> (photon energy in keV, sample temperature in K or None).
SCANS: dict[int, tuple[float, float | None]] = {1: (9.0, 10.0), 2: (9.5, 30.0), 3: (12.0, 5.0), 4: (8.5, 15.0),
                                                5: (9.0, None)}


def _entry(value: float, unit: str) -> dict[str, Any]:
    si = to_si(value, unit)
    assert si is not None
    return {"value": value, "unit": unit, "valueSI": si.value, "unitSI": si.unit}


def _scan(n: int, energy_kev: float, kelvin: float | None, doc: dict | None = None) -> dict:
    doc = doc or _dataset(n, "A")
    doc["scientificMetadata"]["photon_energy"] = _entry(energy_kev, "keV")
    if kelvin is not None:
        doc["scientificMetadata"]["sample_temperature"] = _entry(kelvin, "K")
    return doc


def _scan_ids(page) -> list[str]:
    return page.locator("#rows td[data-col=scan_id]").all_inner_texts()


def _chips(page) -> list[str]:
    return page.locator("#chips li span").all_inner_texts()


def _rows_are(page, ids: list[int]) -> None:
    """Exactly these scans, newest (highest) first."""
    want = ",".join(str(i) for i in sorted(ids, reverse=True))
    page.wait_for_function("(want) => [...document.querySelectorAll('#rows td[data-col=scan_id]')]"
                           ".map((td) => td.textContent).join() === want", arg=want, timeout=10000)


def _add(page, key: str, op: str, values: list[str], unit: str | None = None) -> None:
    page.fill("#c-key", key)
    page.dispatch_event("#c-key", "change")
    page.select_option("#c-op", label=op)
    if values:
        page.fill("#c-value", values[0])
    if len(values) > 1:
        page.fill("#c-value2", values[1])
    if unit is not None:
        page.select_option("#c-unit", unit)
    page.click("#c-add")


def test_conditions_with_units_select_exactly_the_matching_scans_and_a_shared_address_shows_the_same(
        page, browser, server: str, db) -> None:
    datasets = db[DATASET_COLLECTION]
    datasets.insert_many([_scan(n, e, t) for n, (e, t) in SCANS.items()])
    page.goto(f"{server}/?proposal=A#token=ta")
    _rows_are(page, [1, 2, 3, 4, 5])

    # The key picker offers the selection's keys with their units; a keV key takes eV too.
    page.wait_for_function("() => document.querySelector('#c-keys option[value=photon_energy]') !== null")
    assert page.locator("#c-keys option[value=photon_energy]").get_attribute("label") == "photon_energy [keV]"
    page.fill("#c-key", "photon_energy")
    page.dispatch_event("#c-key", "change")
    assert page.locator("#c-op option").all_inner_texts() == ["=", "≠", "<", "≤", ">", "≥", "between", "exists"]
    assert page.locator("#c-unit option").all_inner_texts() == ["keV", "eV", "MeV", "J"]

    # 8 to 10 keV given as 8000 to 10000 eV; below 20 K given in degC.
    _add(page, "photon_energy", "between", ["8000", "10000"], "eV")
    _rows_are(page, [1, 2, 4, 5])
    _add(page, "sample_temperature", "<", ["-253.15"], "degC")
    _rows_are(page, [1, 4])
    assert _chips(page) == ["photon_energy between 8000 and 10000 eV", "sample_temperature < -253.15 degC"]
    assert page.locator("#c-error").is_hidden()
    assert parse_qs(urlsplit(page.url).query)["where"] == ["photon_energy:between:8000:10000:eV",
                                                           "sample_temperature:lt:-253.15:degC"]

    # The CSV follows the same selection.
    page.check("#select-all-filter")
    with page.expect_download() as download:
        page.click("#export-csv")
    table = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert [r[0] for r in table[1:]] == ["4", "1"]
    page.uncheck("#select-all-filter")
    # So does the plot (nothing selected: the whole selection).
    page.click("#open-plot")
    page.wait_for_function("() => document.querySelector('#plot-y option[value=\"meta:photon_energy\"]') !== null")
    page.select_option("#plot-y", "meta:photon_energy")
    page.wait_for_function("() => window.scanlogPlot()?.column === 'meta:photon_energy@scan'")
    held = page.evaluate("window.scanlogPlot()")
    assert held["x"] == [1, 4] and held["y"] == [SCANS[1][0], SCANS[4][0]]
    page.click("#open-plot")

    # A value the API cannot use: its 422 beside the builder, naming the condition; the rows and
    # the chips stay as they were.
    _add(page, "sample_temperature", "<", ["cold"], "K")
    page.wait_for_selector("#c-error:not([hidden])")
    assert "sample_temperature:lt:cold:K" in page.inner_text("#c-error")
    _rows_are(page, [1, 4])
    assert page.locator("#chips li").count() == 2

    # Removing the energy chip leaves the temperature condition.
    page.get_by_role("button", name="remove condition photon_energy between 8000 and 10000 eV").click()
    _rows_are(page, [1, 3, 4])
    assert page.locator("#c-error").is_hidden()
    shared = page.url
    assert parse_qs(urlsplit(shared).query)["where"] == ["sample_temperature:lt:-253.15:degC"]

    # The address in a new browser context: the same conditions and rows; the live stream sends
    # a new scan only if it matches.
    other = browser.new_context().new_page()
    problems = PageProblems(other)
    other.goto(shared + "#token=ta")
    _rows_are(other, [1, 3, 4])
    assert _chips(other) == ["sample_temperature < -253.15 degC"]
    other.wait_for_function("() => /^(updated|live)/.test(document.getElementById('status').textContent)")
    time.sleep(0.5)  # the stream is subscribed right after the first load
    datasets.insert_one(_scan(6, 9.0, 50.0, _now_dataset(6, "A")))  # too warm: not shown
    datasets.insert_one(_scan(7, 9.0, 2.0, _now_dataset(7, "A")))
    _rows_are(other, [1, 3, 4, 7])
    time.sleep(0.5)
    assert _scan_ids(other) == ["7", "4", "3", "1"]
    other.context.close()
    problems.check()


def test_an_incompatible_unit_in_a_shared_address_shows_the_apis_message_beside_the_builder(
        page, server: str, db) -> None:
    db[DATASET_COLLECTION].insert_many([_scan(n, e, t) for n, (e, t) in SCANS.items()])
    page.goto(f"{server}/?proposal=A&where=photon_energy%3Alt%3A20%3AK#token=ta")
    page.wait_for_selector("#c-error:not([hidden])")
    message = page.inner_text("#c-error")
    assert "photon_energy:lt:20:K" in message and "not compatible" in message, message
    assert _chips(page) == ["photon_energy < 20 K"]
    assert "not applied" in page.inner_text("#status") or "live feed off" in page.inner_text("#status")
    # Removing it shows the proposal's scans.
    page.get_by_role("button", name="remove condition photon_energy < 20 K").click()
    _rows_are(page, [1, 2, 3, 4, 5])
    assert page.locator("#c-error").is_hidden()
    assert "where" not in page.url


def test_an_or_on_one_key_shows_as_one_chip_and_a_nested_key_is_offered_with_its_unit(
        page, browser, server: str, db) -> None:
    docs = [_scan(n, e, t) for n, (e, t) in SCANS.items()]
    docs[0]["scientificMetadata"]["sample"] = {"stage": {"height": _entry(2.5, "mm")}}  # scan 1, nested
    db[DATASET_COLLECTION].insert_many(docs)
    page.goto(f"{server}/?proposal=A#token=ta")
    _rows_are(page, [1, 2, 3, 4, 5])
    page.wait_for_function("() => document.querySelector('#c-keys option[value=\"sample.stage.height\"]') !== null")
    assert page.locator("#c-keys option[value='sample.stage.height']").get_attribute("label") == \
        "sample.stage.height [mm]"

    # "Or" with no condition on the key yet says so; then 9 keV (8.9 to 9.1) or 12 keV (given in eV).
    _add(page, "photon_energy", "between", ["8.9", "9.1"], "keV")
    _rows_are(page, [1, 5])
    page.fill("#c-key", "photon_energy")
    page.dispatch_event("#c-key", "change")
    page.select_option("#c-op", label="between")
    page.fill("#c-value", "11500")
    page.fill("#c-value2", "12500")
    page.select_option("#c-unit", "eV")
    page.click("#c-or")
    _rows_are(page, [1, 3, 5])
    assert _chips(page) == ["photon_energy between 8.9 and 9.1 keV or between 11500 and 12500 eV"]
    assert parse_qs(urlsplit(page.url).query)["where"] == ["photon_energy:between:8.9:9.1:keV|between:11500:12500:eV"]
    _add(page, "sample.stage.height", "<", ["3000"], "um")  # a nested key, ANDed, in another unit
    _rows_are(page, [1])
    page.fill("#c-key", "sample_temperature")
    page.dispatch_event("#c-key", "change")
    page.select_option("#c-op", label="<")
    page.fill("#c-value", "20")
    page.click("#c-or")
    page.wait_for_selector("#c-error:not([hidden])")
    assert 'no condition on sample_temperature to join with "or"' in page.inner_text("#c-error")

    # A key no scan holds: the API's 422 beside the builder, the rows as they were.
    _add(page, "photon_enrgy", "exists", [])
    page.wait_for_function("() => document.getElementById('c-error').textContent.includes('photon_enrgy')")
    assert "no scan you may read has the key 'photon_enrgy'" in page.inner_text("#c-error")
    _rows_are(page, [1])

    # The shared address in a fresh context: the same chips and rows.
    other = browser.new_context().new_page()
    problems = PageProblems(other)
    other.goto(page.url + "#token=ta")
    _rows_are(other, [1])
    assert _chips(other) == ["photon_energy between 8.9 and 9.1 keV or between 11500 and 12500 eV",
                             "sample.stage.height < 3000 um"]
    other.get_by_role("button", name="remove condition sample.stage.height < 3000 um").click()
    _rows_are(other, [1, 3, 5])
    other.context.close()
    problems.check()

"""The scan table in a real browser (Debian's chromium through Playwright) on the real store."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scanlog_api import ScanlogServer, ScanlogSettings, TokenUser
from scizoo.core import DATASET_COLLECTION
from tests.helpers import wait_for
from tests.system.test_scan_api import _dataset

pytestmark = pytest.mark.system
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture()
def server(mongo, db) -> Iterator[str]:
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, tokens={
        "ta": TokenUser(user="alice", groups=["A"]), "tb": TokenUser(user="bob", groups=["B"])})
    with ScanlogServer(settings, grace_s=1) as srv:
        yield srv.url


@pytest.fixture()
def page(server: str, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "make test installs Debian's chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        context = browser.new_context(accept_downloads=True)
        yield context.new_page()
        context.close()
        browser.close()


def _headers(page) -> list[str]:
    return [t.strip() for t in page.locator("#head th .name").all_inner_texts()]


def _now_dataset(n: int, proposal: str) -> dict:
    doc = _dataset(n, proposal)
    now = datetime.now(UTC)
    doc.update(creationTime=now, startTime=now, endTime=now)
    return doc


def test_the_table_live_rating_comments_columns_filters_and_csv(page, server: str, db) -> None:
    datasets = db[DATASET_COLLECTION]
    datasets.insert_many([_dataset(1, "A"), _dataset(2, "A"), _dataset(3, "A"), _dataset(9, "B")])
    page.goto(f"{server}/?token=ta&proposal=A")
    page.wait_for_function("document.querySelectorAll('#rows tr').length === 3")
    assert "token" not in page.url  # moved out of the address bar

    # A new scan appears without reloading.
    page.wait_for_function("document.getElementById('status').textContent.startsWith('updated') || "
                           "document.getElementById('status').textContent.startsWith('live')")
    time.sleep(0.5)  # the stream is subscribed right after the first load
    datasets.insert_one(_now_dataset(4, "A"))
    page.wait_for_function("document.querySelectorAll('#rows tr').length === 4", timeout=5000)
    assert page.locator("#rows tr").first.locator("td[data-col=scan_id]").inner_text() == "4"

    # Rate scan 4 (2.5 stars): stored in the dataset's dataQualityMetrics.
    page.locator("#rows tr").first.locator("select.rating").select_option("2.5")
    wait_for(lambda: (datasets.find_one({"scientificMetadata.scan_id.value": "4"}) or {}).get("dataQualityMetrics") == 2.5,
             timeout=10, what="the rating in the catalogue")

    # Comment on it from its detail view.
    page.locator("#rows tr").first.get_by_text("details").click()
    page.fill("#comment-text", "beam lost at point 7")
    page.click("#comment-send")
    page.wait_for_selector("#comments li")
    assert "alice" in page.locator("#comments li").first.inner_text()
    page.click("#comments .comment-edit")
    page.fill("#comments .comment-edit-text", "beam lost at point 8")
    page.click("#comments .comment-save")
    page.wait_for_function("document.querySelector('#comments li')?.textContent.includes('beam lost at point 8')")
    assert "edited" in page.locator("#comments li").first.inner_text()
    page.fill("#comment-text", "to be deleted")
    page.click("#comment-send")
    page.wait_for_function("document.querySelectorAll('#comments li').length === 2")
    page.locator("#comments li").nth(1).locator(".comment-delete").click()
    page.wait_for_function("document.querySelectorAll('#comments li').length === 1")
    page.click("#close-detail")

    # Hide Files, add photon_energy, move Title first; the layout survives a reload.
    page.locator("#head th[data-col=files] .x").click()
    page.select_option("#add-column", "meta:photon_energy")
    page.locator("#head th[data-col=title]").drag_to(page.locator("#head th[data-col=scan_id]"))
    expected = ["Title", "Scan", "Start", "Duration", "Status", "Rating", "photon_energy [eV]"]
    assert [h.rstrip(" ▲▼") for h in _headers(page)] == expected
    page.reload()
    page.wait_for_function("document.querySelectorAll('#rows tr').length === 4")
    page.wait_for_function("document.querySelector('#head th[data-col=\"meta:photon_energy\"]') !== null")
    assert [h.rstrip(" ▲▼") for h in _headers(page)] == expected
    assert page.locator("#rows tr").first.locator("td[data-col='meta:photon_energy']").inner_text() == "100 eV"

    # Filters: last hour shows only the new scan; proposal B shows nothing to alice.
    page.select_option("#f-range", "1")
    page.wait_for_function("document.querySelectorAll('#rows tr').length === 1")
    page.select_option("#f-range", "")
    page.wait_for_function("document.querySelectorAll('#rows tr').length === 4")
    page.fill("#f-proposal", "B")
    page.press("#f-proposal", "Enter")
    page.wait_for_function("document.querySelectorAll('#rows tr').length === 0")
    page.fill("#f-proposal", "A")
    page.press("#f-proposal", "Enter")
    page.wait_for_function("document.querySelectorAll('#rows tr').length === 4")

    # Select rows 1-3 with a shift-click and export exactly the visible columns.
    boxes = page.locator("#rows input.select")
    boxes.nth(0).click()
    boxes.nth(2).click(modifiers=["Shift"])
    assert page.inner_text("#selected-count") == "3 selected"
    with page.expect_download() as download:
        page.click("#export-csv")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["Title", "Scan", "Start", "Duration [s]", "Status", "Rating", "photon_energy [eV]"]
    assert [r[1] for r in table[1:]] == ["4", "3", "2"]
    assert table[1][5] == "2.5" and table[1][6] == "100.0"

    # The live stream followed the proposal filter back to A: new scans still arrive.
    datasets.insert_one(_now_dataset(5, "A"))
    page.wait_for_function("document.querySelectorAll('#rows tr').length === 5", timeout=5000)


def test_another_proposals_user_sees_none_of_it(page, server: str, db) -> None:
    db[DATASET_COLLECTION].insert_many([_dataset(1, "A"), _dataset(9, "B")])
    page.goto(f"{server}/?token=tb")
    page.wait_for_function("document.querySelectorAll('#rows tr').length === 1")
    time.sleep(0.5)
    db[DATASET_COLLECTION].insert_one(_now_dataset(5, "A"))  # live, but not bob's
    db[DATASET_COLLECTION].insert_one(_now_dataset(6, "B"))
    page.wait_for_function("document.querySelectorAll('#rows tr').length === 2")
    assert sorted(page.locator("#rows td[data-col=scan_id]").all_inner_texts()) == ["6", "9"]


def test_a_running_row_updates_and_rows_written_during_a_server_restart_appear(page, mongo, db) -> None:
    datasets = db[DATASET_COLLECTION]
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name,
                               tokens={"ta": TokenUser(user="alice", groups=["A"])})
    srv = ScanlogServer(settings, grace_s=1).start()
    try:
        running = _now_dataset(1, "A")
        running["scientificMetadata"]["scan_status"]["value"] = "running"
        datasets.insert_one(running)
        page.goto(f"{srv.url}/?token=ta")
        page.wait_for_function("document.querySelector('#rows td[data-col=status]')?.textContent === 'running'")
        time.sleep(0.5)
        datasets.update_one({"_id": running["_id"]}, {"$set": {"scientificMetadata.scan_status.value": "finished"}})
        page.wait_for_function("document.querySelector('#rows td[data-col=status]')?.textContent === 'finished'",
                               timeout=5000)
        assert page.locator("#rows tr").count() == 1

        srv.stop()
        page.wait_for_function("document.getElementById('status').textContent.includes('reconnecting')",
                               timeout=10000)
        datasets.insert_one(_now_dataset(2, "A"))  # written while the server is down
        srv.start()  # same port
        page.wait_for_function("document.querySelectorAll('#rows tr').length === 2", timeout=10000)
        datasets.insert_one(_now_dataset(3, "A"))  # and the live feed works again
        page.wait_for_function("document.querySelectorAll('#rows tr').length === 3", timeout=5000)
    finally:
        srv.stop()

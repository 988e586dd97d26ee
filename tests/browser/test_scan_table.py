"""The scan table in a real browser (Debian's chromium through Playwright) on the real store."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scanlog_api import ScanlogServer, ScanlogSettings, TokenUser
from scizoo.core import DATASET_COLLECTION
from tests.helpers import wait_for
from tests.system.test_scan_api import _dataset

pytestmark = pytest.mark.system


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
    page.goto(f"{server}/?proposal=A#token=ta")
    page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 3")
    assert "token" not in page.url  # moved out of the address bar

    # A new scan appears without reloading.
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('updated') || "
                           "document.getElementById('status').textContent.startsWith('live')")
    time.sleep(0.5)  # the stream is subscribed right after the first load
    datasets.insert_one(_now_dataset(4, "A"))
    page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 4", timeout=5000)
    assert page.locator("#rows tr").first.locator("td[data-col=scan_id]").inner_text() == "4"

    # Rate scan 4: a click on the left half of the third star gives 2.5; the arrow keys step by
    # half a star, Delete clears. Each is stored in the dataset's dataQualityMetrics.
    def stored() -> object:
        return (datasets.find_one({"scientificMetadata.scan_id.value": "4"}) or {}).get("dataQualityMetrics")

    rating = page.locator("#rows tr").first.locator(".stars")
    box = rating.locator(".track").bounding_box()
    rating.locator(".track").click(position={"x": box["width"] * 4.5 / 6, "y": box["height"] / 2})
    wait_for(lambda: stored() == 2.5, timeout=10, what="2.5 from a click in the catalogue")
    assert rating.get_attribute("aria-valuenow") == "2.5"
    rating.focus()
    page.keyboard.press("ArrowLeft")
    wait_for(lambda: stored() == 2, timeout=10, what="2 from the keyboard in the catalogue")
    page.keyboard.press("Delete")
    wait_for(lambda: stored() is None, timeout=10, what="the rating cleared")
    assert rating.get_attribute("aria-valuetext") == "unrated"
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    wait_for(lambda: stored() == 2.5, timeout=10, what="2.5 again from the keyboard")

    # Comment on it from its detail view.
    page.locator("#rows tr").first.get_by_text("details").click()
    page.fill("#comment-text", "beam lost at point 7")
    page.click("#comment-send")
    page.wait_for_selector("#comments li")
    assert "alice" in page.locator("#comments li").first.inner_text()
    page.click("#comments .comment-edit")
    page.fill("#comments .comment-edit-text", "beam lost at point 8")
    page.click("#comments .comment-save")
    page.wait_for_function("() => document.querySelector('#comments li')?.textContent.includes('beam lost at point 8')")
    assert "edited" in page.locator("#comments li").first.inner_text()
    page.fill("#comment-text", "to be deleted")
    page.click("#comment-send")
    page.wait_for_function("() => document.querySelectorAll('#comments li').length === 2")
    page.locator("#comments li").nth(1).locator(".comment-delete").click()
    page.wait_for_function("() => document.querySelectorAll('#comments li').length === 1")
    page.click("#close-detail")

    # Hide Files, add photon_energy, move Title first; the layout survives a reload.
    page.locator("#head th[data-col=files] .x").click()
    page.select_option("#add-column", "meta:photon_energy")
    page.locator("#head th[data-col=title]").drag_to(page.locator("#head th[data-col=scan_id]"))
    expected = ["Title", "Scan", "Start", "Duration", "Status", "Rating", "photon_energy [eV]"]
    assert [h.rstrip(" ▲▼") for h in _headers(page)] == expected
    page.reload()
    page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 4")
    page.wait_for_function("() => document.querySelector('#head th[data-col=\"meta:photon_energy\"]') !== null")
    assert [h.rstrip(" ▲▼") for h in _headers(page)] == expected
    assert page.locator("#rows tr").first.locator("td[data-col='meta:photon_energy']").inner_text() == "100 eV"

    # Filters: last hour shows only the new scan; proposal B shows nothing to alice.
    page.select_option("#f-range", "1")
    page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 1")
    page.select_option("#f-range", "")
    page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 4")
    page.fill("#f-proposal", "B")
    page.press("#f-proposal", "Enter")
    page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 0")
    page.fill("#f-proposal", "A")
    page.press("#f-proposal", "Enter")
    page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 4")

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
    page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 5", timeout=5000)


def test_another_proposals_user_sees_none_of_it(page, server: str, db) -> None:
    db[DATASET_COLLECTION].insert_many([_dataset(1, "A"), _dataset(9, "B")])
    page.goto(f"{server}/#token=tb")
    page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 1")
    time.sleep(0.5)
    db[DATASET_COLLECTION].insert_one(_now_dataset(5, "A"))  # live, but not bob's
    db[DATASET_COLLECTION].insert_one(_now_dataset(6, "B"))
    page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 2")
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
        page.goto(f"{srv.url}/#token=ta")
        page.wait_for_function("() => document.querySelector('#rows td[data-col=status]')?.textContent === 'running'")
        time.sleep(0.5)
        datasets.update_one({"_id": running["_id"]}, {"$set": {"scientificMetadata.scan_status.value": "finished"}})
        page.wait_for_function("() => document.querySelector('#rows td[data-col=status]')?.textContent === 'finished'",
                               timeout=5000)
        assert page.locator("#rows tr").count() == 1

        srv.stop()
        page.wait_for_function("() => document.getElementById('status').textContent.includes('reconnecting')",
                               timeout=10000)
        datasets.insert_one(_now_dataset(2, "A"))  # written while the server is down
        srv.start()  # same port
        page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 2", timeout=10000)
        datasets.insert_one(_now_dataset(3, "A"))  # and the live feed works again
        page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 3", timeout=5000)
    finally:
        srv.stop()


def _grouped_dataset(db) -> dict:
    """A scan whose metadata has configuration groups, a mapped value, an SI conversion and an
    unreadable device, with an attached image and a file."""
    from scizoo.core import (
        ATTACHMENT_COLLECTION,
        ORIG_DATABLOCK_COLLECTION,
        CatalogueSettings,
        DataFile,
        Proposal,
        RecordedEntry,
        ScanMetadata,
        build_attachment,
        build_dataset,
    )
    from tests.helpers import make_scan

    scan = make_scan(5)
    scan = scan.model_copy(update={"files": [DataFile(path="/data/scan_5.h5", size=2_500_000, time=scan.start)]})
    message = ScanMetadata(
        message_id="grouped-5", beamline="sim", source="manual", proposal_id="A", data_path="/data", scan=scan,
        produced_at=scan.start, entries=[
            RecordedEntry(name="photon_energy", device="sim/energy/1", attribute="energy", value=7100.0, unit="eV",
                          group="Source"),
            RecordedEntry(name="sample_temperature", device="sim/cryo/1", attribute="temperature", value=12.5,
                          unit="degC", group="Sample"),
            RecordedEntry(name="shutter", device="sim/shutter/1", attribute="state", value="inserted", raw_value=4,
                          group="Source"),
            RecordedEntry(name="hung_motor", device="sim/motor/9", attribute="position", value=None,
                          error="Timeout: no answer within 1 s", group="Sample"),
        ])
    doc = build_dataset(message, Proposal(proposalId="A", ownerGroup="A"), CatalogueSettings()).to_mongo()
    db[DATASET_COLLECTION].insert_one(doc)
    db[ORIG_DATABLOCK_COLLECTION].insert_one({"_id": "blk-5", "datasetId": doc["pid"], "dataFileList": [
        {"path": "/data/scan_5.h5", "size": 2_500_000, "time": scan.start}]})
    png = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
           "AAAABJRU5ErkJggg==")
    db[ATTACHMENT_COLLECTION].insert_one(build_attachment(doc, aid="att-5", caption="beam profile", thumbnail=png,
                                                          user="alice", now=scan.start).to_mongo())
    return doc


def test_the_detail_view_reads_as_a_person_reads_it_and_the_pickers_list_only_what_you_may_see(
    page, server: str, db
) -> None:
    from scizoo.core import PROPOSAL_COLLECTION

    doc = _grouped_dataset(db)
    published = _dataset(7, "PUB")
    published["isPublished"] = True
    published["ownerGroup"] = "C"
    published["instrumentIds"] = ["other-bl"]
    db[DATASET_COLLECTION].insert_many([published, _dataset(8, "B")])
    db[PROPOSAL_COLLECTION].insert_many([
        {"_id": "A", "proposalId": "A", "title": "Alice's proposal", "ownerGroup": "A"},
        {"_id": "B", "proposalId": "B", "title": "Bob's proposal", "ownerGroup": "B"},
        {"_id": "PUB", "proposalId": "PUB", "title": "Published work", "ownerGroup": "C"}])
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{server}/#token=ta")
    page.wait_for_function("() => document.querySelectorAll('#proposal-list option').length > 0")
    options = page.locator("#proposal-list option")
    listed = [options.nth(i).get_attribute("value") for i in range(options.count())]
    assert "A" in listed and "PUB" in listed and "B" not in listed
    # The test's shared PROPOSAL (20240001, another group) is not alice's either.
    assert "20240001" not in listed
    page.wait_for_function("() => document.querySelectorAll('#f-beamline option').length === 3")
    assert page.locator("#f-beamline option").all_inner_texts() == ["all", "other-bl", "sim"]

    # The detail: groups with their entries, units, the SI value, the raw value of a mapped one.
    page.locator(f"#rows tr[data-pid='{doc['pid']}']").get_by_text("details").click()
    page.wait_for_selector("#metadata .meta-group")
    groups = page.locator("#metadata .meta-group h3").all_inner_texts()
    assert groups[0] == "Scan" and "Source" in groups and "Sample" in groups
    sample = page.locator("#metadata .meta-group[data-group='Sample']")
    assert sample.locator("dd[data-key='sample_temperature'] .value").inner_text() == "12.5 degC"
    assert sample.locator("dd[data-key='sample_temperature'] .si").inner_text() == "(285.65 K)"
    assert "Timeout: no answer within 1 s" in sample.locator("dd[data-key='hung_motor'] .meta-error").inner_text()
    shutter = page.locator("#metadata dd[data-key='shutter'] .value")
    assert shutter.inner_text() == "inserted" and shutter.get_attribute("title") == "raw value: 4"
    assert "2.5 MB" in page.locator("#detail table.files").inner_text()
    # A thumbnail opens the image.
    page.locator("#gallery img").first.click()
    page.wait_for_function("() => document.getElementById('image-view').open")
    assert page.locator("#image-caption").inner_text() == "beam profile"
    page.click("#close-image")
    # Your own rating in the detail, and the average.
    page.locator("#rating-panel .stars").focus()
    page.keyboard.press("End")
    page.wait_for_function("() => document.querySelector('#rating-panel .average')?.textContent.includes('average 3')")
    assert not [e for e in errors if "favicon" not in e], errors


def test_the_plot_holds_exactly_the_selected_scans_values_and_a_point_opens_its_scan(page, server: str, db) -> None:
    energies = {1: 7100.0, 2: 7150.5, 3: 7000.25, 4: 7300.0, 5: 6900.0}
    db[DATASET_COLLECTION].insert_many([_dataset(n, "A", energy=e) for n, e in energies.items()])
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{server}/?proposal=A#token=ta")
    page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 5")
    # Select scans 4, 3 and 2 (rows are newest first: 5, 4, 3, 2, 1).
    boxes = page.locator("#rows input.select")
    boxes.nth(1).click()
    boxes.nth(3).click(modifiers=["Shift"])
    page.click("#open-plot")
    page.wait_for_function("() => document.querySelector('#plot-y option[value=\"meta:photon_energy\"]') !== null")
    page.select_option("#plot-y", "meta:photon_energy")
    page.wait_for_function("() => window.scanlogPlot()?.column === 'meta:photon_energy@scan'")
    held = page.evaluate("window.scanlogPlot()")
    assert held["x"] == [2, 3, 4] and held["y"] == [energies[2], energies[3], energies[4]]
    # Against time instead, the whole filter once "select all in filter" is ticked.
    page.check("#select-all-filter")
    page.select_option("#plot-x", "time")
    page.wait_for_function("() => window.scanlogPlot().column === 'meta:photon_energy@time' && "
                           "window.scanlogPlot().y.length === 5")
    assert sorted(page.evaluate("window.scanlogPlot()")["y"]) == sorted(energies.values())
    # Hover shows the scan; a click opens its detail.
    page.select_option("#plot-x", "scan")
    page.wait_for_function("() => window.scanlogPlot().column === 'meta:photon_energy@scan' && "
                           "window.scanlogPlot().x.join() === '1,2,3,4,5'")
    point = page.evaluate("window.scanlogPlotPoint(3)")
    page.mouse.move(point["x"], point["y"])
    page.wait_for_function("() => document.getElementById('plot-hover').textContent.startsWith('scan 4: 7300')")
    page.mouse.click(point["x"], point["y"])
    page.wait_for_function("() => document.getElementById('detail').open")
    scan_4 = db[DATASET_COLLECTION].find_one({"scientificMetadata.scan_id.value": "4"})
    assert page.locator("#detail-title").inner_text() == scan_4["description"]
    assert not [e for e in errors if "favicon" not in e], errors


def test_the_token_comes_in_the_fragment_and_no_request_carries_it(page, browser, server: str, db) -> None:
    from tests.browser.conftest import PageProblems

    db[DATASET_COLLECTION].insert_many([_dataset(1, "A"), _dataset(2, "B")])
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url))
    page.goto(f"{server}/?proposal=A#token=ta")
    page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 1")  # alice's scan
    assert page.url == f"{server}/?proposal=A"  # out of the address: not bookmarked, not in the history
    page.reload()  # kept for the tab
    page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 1")
    assert sent and not [u for u in sent if "token" in u], sent  # the fragment never goes to the server
    assert page.locator("#notice").is_hidden()
    # An old link with ?token=: the server has seen it already, so the page does not use it; it
    # says how to sign in, and takes it out of the address.
    other = browser.new_context().new_page()
    problems = PageProblems(other)
    other.goto(f"{server}/?token=ta&proposal=A")
    other.wait_for_function("() => document.getElementById('status').textContent.startsWith('updated')")
    assert other.locator("#rows tr").count() == 0  # anonymous: no published scan of A
    assert "#token=" in other.locator("#notice").inner_text()
    assert other.url == f"{server}/?proposal=A"
    other.context.close()
    problems.check()


def test_the_layout_is_kept_under_the_users_name_and_no_storage_key_holds_the_token(page, server: str, db) -> None:
    db[DATASET_COLLECTION].insert_one(_dataset(1, "A"))
    page.goto(f"{server}/#token=ta")
    page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 1")
    # An earlier page kept alice's layout under her token's last 8 characters ("ta": all of it).
    page.evaluate("() => { localStorage.clear(); localStorage.setItem('scanlog-layout:ta', '[\"status\",\"scan_id\"]'); }")
    page.reload()
    page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 1")
    page.wait_for_function("() => document.querySelectorAll('#head th[data-col]').length === 2")
    assert _headers(page) == ["Status", "Scan"]  # kept, and moved to alice's name
    assert page.evaluate("() => Object.keys(localStorage)") == ["scanlog-layout:user:alice"]
    page.locator("#head th[data-col=scan_id] .x").click()
    assert page.evaluate("() => Object.entries(localStorage)") == [["scanlog-layout:user:alice", '["status"]']]

"""Run a reduction again and cancel one from the scan table's detail view, in a real browser."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scizoo.core import DATASET_COLLECTION, JOB_COLLECTION
from tests.browser.conftest import PageProblems
from tests.browser.test_scan_table import _now_dataset
from tests.helpers import wait_for

pytestmark = pytest.mark.system


def test_run_again_with_changed_parameters_and_cancel_from_the_detail_view(browser, server: str, db,
                                                                           tmp_path: Path) -> None:
    scan = {**_now_dataset(1, "A"), "accessGroups": ["R"]}
    db[DATASET_COLLECTION].insert_one(scan)
    pid, now = scan["pid"], datetime.now(UTC)
    db[JOB_COLLECTION].insert_many([
        {"_id": f"{pid}#fine", "datasetId": pid, "rule": "fine", "pipeline": "profile", "state": "succeeded",
         "attempt": 1, "params": {"bin": {"bins": 2}}, "createdAt": now, "endedAt": now},
        {"_id": f"{pid}#boom", "datasetId": pid, "rule": "boom", "pipeline": "failing", "state": "failed",
         "attempt": 3, "log": "RuntimeError: this reduction always fails", "createdAt": now, "endedAt": now}])
    errors: list[str] = []
    problems: list[PageProblems] = []

    def open_detail(token: str):
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        problems.append(PageProblems(page))
        page.goto(f"{server}/?proposal=A#token={token}")
        page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 1")
        page.locator("#rows tr").first.get_by_text("details").click()
        page.wait_for_selector("#reductions li")
        return page

    page = open_detail("ta")
    fine = page.locator("#reductions li", has_text="fine (profile)")
    fine.locator(".rerun summary").click()
    assert json.loads(fine.locator(".rerun-params").input_value()) == {"bin": {"bins": 2}}  # the job's own
    fine.locator(".rerun-params").fill('{"bin": {"bins": 3}}')
    fine.locator(".rerun-go").click()
    page.wait_for_selector("#reductions li:has-text('fine.r1')")
    queued = db[JOB_COLLECTION].find_one({"_id": f"{pid}#fine.r1"})
    assert queued["state"] == "queued" and queued["requestedBy"] == "alice"
    assert queued["requestedParams"] == {"bin": {"bins": 3}}
    assert page.locator("#reductions li", has_text="fine.r1").locator(".reduction").inner_text() == "queued"
    # Cancel the failed one: it is never run again.
    page.locator("#reductions li", has_text="boom (failing)").locator(".cancel-job").click()
    wait_for(lambda: db[JOB_COLLECTION].find_one({"_id": f"{pid}#boom"})["state"] == "cancelled", timeout=10,
             what="the failed job cancelled in the catalogue")
    page.wait_for_selector("#reductions li:has-text('boom (failing)') .reduction.cancelled")
    page.close()

    # A reader who may not change the scan is told why; nothing is queued.
    page = open_detail("tr")
    fine = page.locator("#reductions li", has_text="fine (profile)")
    fine.locator(".rerun summary").click()
    fine.locator(".rerun-go").click()
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('not run again')")
    assert "may change" in page.locator("#status").inner_text()
    assert db[JOB_COLLECTION].count_documents({"requestedBy": "rita"}) == 0
    page.close()
    # The refused request is a 403 the page reports, logged by the browser as a failed fetch.
    assert all("403" in e for e in errors), errors
    for seen in problems:
        seen.check()

"""Results a person can read (issue 22), in a real browser over the real store: "Compare results"
overlays the derived curves of the selected scans (one colour and legend entry each, at most 10,
saying what it left out), the detail view links the facility's notebook, and the files' fixity
(scifix's summaries) shows in the row and the detail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scizoo.core import DATASET_COLLECTION, FIXITY_COLLECTION, DatasetIngested
from tests.browser.test_rules_page import _raw_scan
from tests.helpers import PID_PREFIX

pytestmark = pytest.mark.system
HUB = "https://jupyter.example.org/hub/user-redirect/lab/tree/{path}?dataset={pid}"


@pytest.fixture()
def data_server(mongo, db, tmp_path: Path) -> Iterator[str]:
    from scanlog_api import ScanlogServer, ScanlogSettings, TokenUser

    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, data_roots=[str(tmp_path)],
                               notebook_url_pattern=HUB, tokens={"ta": TokenUser(user="alice", groups=["A"])})
    with ScanlogServer(settings, grace_s=1) as srv:
        yield srv.url


def _reduced(db, tmp_path: Path, n: int, bins: int) -> str:
    """Raw scan ``n``, titled "raw 0n", reduced by the real profile pipeline into ``bins`` points."""
    from scireduce import Reducer, Rule, RuleSet, ScireduceSettings

    pid = _raw_scan(db, n, tmp_path / "raw")
    db[DATASET_COLLECTION].update_one({"_id": pid}, {"$set": {"description": f"raw {n:02d}"}})
    if bins:
        rules = RuleSet(rules=[Rule(name=f"bins{bins}", pipeline="profile", params={"bin": {"bins": bins}})])
        reducer = Reducer(db, rules, ScireduceSettings(work_dir=tmp_path / f"work{n}", pid_prefix=PID_PREFIX))
        (job,) = reducer.handle(DatasetIngested(pid=pid, message_id=f"m{n}", beamline="sim", proposal_id="A",
                                                status="finished", ingested_at=datetime.now(UTC)))
        assert job["state"] == "succeeded", job.get("log")
    return pid


def _select(page, title: str) -> None:
    page.locator("#rows tr", has_text=title).locator("input.select").check()


def test_compare_results_overlays_the_selected_scans_curves(page, data_server: str, db, tmp_path: Path) -> None:
    reduced = {n: _reduced(db, tmp_path, n, bins) for n, bins in ((1, 3), (2, 4), (3, 0))}
    for n in range(4, 13):  # nine more raw scans: twelve selected, two over the bound
        _reduced(db, tmp_path, n, 0)

    page.goto(f"{data_server}/?proposal=A#token=ta")
    for n in range(1, 13):
        _select(page, f"raw {n:02d}")
    page.locator("#compare-selected").click()
    page.wait_for_function("() => window.scanlogCompare && window.scanlogCompare()?.series.length === 2", timeout=20_000)
    shown = page.evaluate("() => window.scanlogCompare()")
    names = [s["name"] for s in shown["series"]]
    assert sorted(names) == ["raw 01", "raw 02"]  # each scan by its title (these have no scan number)
    assert {s["pid"] for s in shown["series"]} == {reduced[1], reduced[2]}
    assert {s["points"] for s in shown["series"]} == {3, 4}
    assert len({s["colour"] for s in shown["series"]}) == 2
    note = page.locator("#compare-note").inner_text()
    assert note.startswith("2 results overlaid, each point with its uncertainty (±1σ)")
    assert note.count("no reduction result yet") == 8  # the first ten: two reduced, eight not
    assert note.endswith("2 more selected: at most 10 are compared at once, the first 10 are shown")
    legend = page.locator("#compare .u-legend").inner_text()
    assert "raw 01" in legend and "raw 02" in legend
    assert page.locator("#compare-chart canvas").count() == 1


def test_the_detail_links_the_notebook_and_the_row_and_detail_show_fixity(page, data_server: str, db,
                                                                         tmp_path: Path) -> None:
    pid = _reduced(db, tmp_path, 1, 0)
    db[FIXITY_COLLECTION].insert_one({
        "_id": pid, "datasetId": pid, "state": "flagged", "algorithm": "blake2b", "files": 1, "checksummed": 0,
        "problems": [{"path": "/raw/scan_00001.dat", "kind": "changed", "reason": "changed since capture: size 1 -> 60"}],
        "problemCount": 1, "checkedAt": datetime.now(UTC)})
    page.goto(f"{data_server}/?proposal=A#token=ta")
    row = page.locator("#rows tr", has_text="raw 01")
    assert row.locator(".fixity.flagged").inner_text().strip() == "⚠ 1"
    row.get_by_text("details").click()
    assert page.locator("#fixity").inner_text() == ("checksums: 1 problem: /raw/scan_00001.dat "
                                                    "(changed: changed since capture: size 1 -> 60)")
    folder = db[DATASET_COLLECTION].find_one({"_id": pid}).get("sourceFolder", "")
    href = page.locator("#notebook-link").get_attribute("href")
    assert href == HUB.replace("{path}", folder.lstrip("/")).replace("{pid}", pid.replace("/", "%2F"))

"""A derived dataset's curve in the detail view, in a real browser: a scan reduced by a worker
on the real store, its result's CSV read through the downloads API and plotted with uPlot, each
point with its uncertainty."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scizoo.core import DATASET_COLLECTION, DatasetIngested
from tests.browser.test_rules_page import _raw_scan
from tests.helpers import PID_PREFIX

pytestmark = pytest.mark.system


@pytest.fixture()
def data_server(mongo, db, tmp_path: Path) -> Iterator[str]:
    from scanlog_api import ScanlogServer, ScanlogSettings, TokenUser

    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, data_roots=[str(tmp_path)],
                               tokens={"ta": TokenUser(user="alice", groups=["A"])})
    with ScanlogServer(settings, grace_s=1) as srv:
        yield srv.url


def test_the_detail_view_plots_a_derived_datasets_curve_with_its_uncertainties(page, data_server: str, db,
                                                                              tmp_path: Path) -> None:
    from scireduce import Reducer, Rule, RuleSet, ScireduceSettings

    pid = _raw_scan(db, 1, tmp_path / "raw")
    db[DATASET_COLLECTION].update_one({"_id": pid}, {"$set": {"description": "the raw scan"}})
    rules = RuleSet(rules=[Rule(name="fine", pipeline="profile", params={"bin": {"bins": 3}})])
    reducer = Reducer(db, rules, ScireduceSettings(work_dir=tmp_path / "work", pid_prefix=PID_PREFIX))
    (job,) = reducer.handle(DatasetIngested(pid=pid, message_id="m1", beamline="sim", proposal_id="A",
                                            status="finished", ingested_at=datetime.now(UTC)))
    assert job["state"] == "succeeded", job.get("log")
    derived = db[DATASET_COLLECTION].find_one({"_id": job["derived"]})
    with (Path(derived["sourceFolder"]) / "profile.csv").open(newline="") as fh:
        rows = [(float(r["x"]), float(r["y"]), float(r["sigma"])) for r in csv.DictReader(fh)]
    assert len(rows) == 3

    page.goto(f"{data_server}/?proposal=A#token=ta")
    page.locator("#rows tr", has_text="the raw scan").get_by_text("details").click()
    assert page.locator("#detail #curve").is_hidden()  # a raw scan has no curve
    page.locator("#reductions a.derived").click()
    page.wait_for_function("() => window.scanlogCurve && window.scanlogCurve()?.pid === "
                           f"{derived['pid']!r}", timeout=10_000)
    shown = page.evaluate("() => window.scanlogCurve().curve")
    for axis, column in zip(("x", "y", "sigma"), zip(*rows, strict=True), strict=True):
        assert shown[axis] == pytest.approx(list(column), rel=1e-12), axis
    assert all(s > 0 for s in shown["sigma"])
    assert page.locator("#curve .curve-note").inner_text() == "3 points of profile.csv, each with its uncertainty (±1σ)"
    assert page.locator("#curve canvas").count() == 1

"""A group reduction on real parts: four scans of one reflectivity series, stored in the catalogue
(SecantusDB), reduced together by the shipped ``stitch`` pipeline in a subprocess, into one
derived dataset with every scan an input and the stitched curve in its NeXus file; a late fifth
scan makes a new revision, the first kept."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import h5py
import pytest

from scireduce import Reducer, ScireduceSettings
from scizoo.core import (
    DATASET_COLLECTION,
    JOB_COLLECTION,
    ORIG_DATABLOCK_COLLECTION,
    DatasetIngested,
    GroupBy,
    ReductionRule,
    ReductionRuleSet,
)
from tests.helpers import PID_PREFIX

pytestmark = pytest.mark.system
START = datetime(2026, 12, 1, 12, tzinfo=UTC)
MONITOR = 1e6
#: (lowest angle, highest angle, attenuation) of each segment of the series.
SEGMENTS = [(0.0, 2.0, 1.0), (1.5, 3.5, 10.0), (3.0, 5.0, 100.0), (4.5, 6.5, 1000.0), (6.0, 8.0, 10000.0)]


def _curve(x: float) -> float:
    return 1e-3 * math.exp(-x)


def _store_scan(db, folder: Path, n: int) -> None:
    """Scan n of series 11 of sample 'Si-wafer', as scicow stores it, with its file written."""
    low, high, attenuation = SEGMENTS[n - 1]
    path = folder / f"scan_{n:05d}.dat"
    xs = [low + (high - low) * i / 8 for i in range(9)]
    path.write_text("# x counts monitor\n" + "".join(f"{x} {_curve(x) * MONITOR / attenuation} {MONITOR}\n" for x in xs))
    pid = f"{PID_PREFIX}/series-{n}"
    db[DATASET_COLLECTION].insert_one({
        "_id": pid, "pid": pid, "type": "raw", "ownerGroup": "20240001", "accessGroups": ["sim-staff"],
        "proposalIds": ["20240001"], "instrumentIds": ["sim"], "dataFormat": "dat", "datasetName": f"scan {n}",
        "creationTime": START + timedelta(minutes=n),
        "scientificMetadata": {"scan_status": {"value": "finished", "unit": ""},
                               "sample_name": {"value": "Si-wafer", "unit": ""},
                               "series_id": {"value": 11, "unit": ""}}})
    db[ORIG_DATABLOCK_COLLECTION].insert_one({"_id": f"block-{pid}", "datasetId": pid,
                                              "dataFileList": [{"path": str(path), "size": path.stat().st_size}]})


def _reducer(db, tmp_path: Path) -> tuple[Reducer, Path]:
    """A worker with one group rule: a series of 4 scans of one sample, stitched; and the scans' folder."""
    rule = ReductionRule(name="reflectivity", pipeline="stitch", beamline="sim", file_pattern="scan_*.dat",
                         group=GroupBy(keys=["sample_name", "series_id"], count=4), timeout_s=120)
    raw = tmp_path / "raw"
    raw.mkdir()
    return Reducer(db, ReductionRuleSet(rules=[rule]), ScireduceSettings(work_dir=tmp_path / "work",
                                                                         pid_prefix=PID_PREFIX)), raw


def _event(n: int) -> DatasetIngested:
    return DatasetIngested(pid=f"{PID_PREFIX}/series-{n}", message_id=f"m{n}", beamline="sim",
                           proposal_id="20240001", status="finished", ingested_at=START)


def test_four_scans_of_a_series_become_one_stitched_dataset_and_a_late_fifth_a_new_revision(db, tmp_path) -> None:
    reducer, raw = _reducer(db, tmp_path)
    for n in (1, 2, 3):
        _store_scan(db, raw, n)
        assert reducer.handle(_event(n)) == []
    _store_scan(db, raw, 4)
    (job,) = reducer.handle(_event(4))
    assert job["state"] == "succeeded", job.get("log")
    derived = db[DATASET_COLLECTION].find_one({"_id": job["derived"]})
    assert derived["inputDatasets"] == [f"{PID_PREFIX}/series-{n}" for n in (1, 2, 3, 4)]
    assert derived["ownerGroup"] == "20240001" and derived["accessGroups"] == ["sim-staff"]
    recipe = json.loads(derived["scientificMetadata"]["recipe"]["value"])
    assert [i["pid"] for i in recipe["inputs"]] == derived["inputDatasets"]
    nexus = next(f["path"] for b in db[ORIG_DATABLOCK_COLLECTION].find({"datasetId": derived["_id"]})
                 for f in b["dataFileList"] if f["path"].endswith(".nxs"))
    with h5py.File(nexus) as f:
        x, y, sigma = (f["entry/data/x"][()], f["entry/data/y"][()], f["entry/data/y_errors"][()])
    assert len(x) == 36
    for xi, yi, si in zip(x, y, sigma, strict=True):
        # Back on the first segment's scale (attenuation 1): the curve itself, within 3 sigma.
        assert abs(yi - _curve(xi)) <= 3 * si + 1e-12, (xi, yi, _curve(xi), si)
    # Every scan's event again: the same job, nothing run again.
    assert all(reducer.handle(_event(n))[0]["_id"] == job["_id"] for n in (1, 2, 3, 4))
    assert db[JOB_COLLECTION].count_documents({}) == 1

    _store_scan(db, raw, 5)
    (late,) = reducer.handle(_event(5))
    assert late["state"] == "succeeded", late.get("log")
    assert late["derived"] != job["derived"]
    revisions = {d["_id"]: len(d["inputDatasets"]) for d in db[DATASET_COLLECTION].find({"type": "derived"})}
    assert revisions == {job["derived"]: 4, late["derived"]: 5}


def test_the_scan_table_shows_a_group_job_on_every_scan_it_reduced(mongo, db, tmp_path) -> None:
    from fastapi.testclient import TestClient

    from scanlog_api import ScanlogSettings, TokenUser, create_app

    reducer, raw = _reducer(db, tmp_path)
    for n in (1, 2, 3, 4):
        _store_scan(db, raw, n)
    (job,) = reducer.handle(_event(4))
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, tokens={
        "ta": TokenUser(user="ada", groups=["20240001"]), "tb": TokenUser(user="bob", groups=["B"])})
    with TestClient(create_app(settings)) as client:
        ada = {"Authorization": "Bearer ta"}
        rows = {r["pid"]: r for r in client.get("/api/scans", headers=ada).json()["data"]}
        for n in (1, 2, 3, 4):
            pid = f"{PID_PREFIX}/series-{n}"
            assert rows[pid]["reduction"] == "succeeded"
            (shown,) = client.get(f"/api/scans/{pid}", headers=ada).json()["reductions"]
            assert (shown["id"], shown["derived"], shown["inputs"]) == (job["_id"], job["derived"], 4)
        assert client.get(f"/api/scans/{PID_PREFIX}/series-1", headers={"Authorization": "Bearer tb"}).status_code == 404

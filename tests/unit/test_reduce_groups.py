"""Group reductions, without services: a rule that reduces the scans of one series together, on
the in-memory job store, catalogue and runner (scireduce.testing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from scireduce import ScireduceSettings, Worker
from scireduce.testing import FakeCatalogue, FakeClock, FakeJobStore, ScriptedRunner
from scizoo.core import DatasetIngested, GroupBy, JobState, ReductionRule, ReductionRuleSet

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
RULE = ReductionRule(name="series", pipeline="stitch", group=GroupBy(keys=["sample", "series"], count=4))


def _scan(n: int, *, series: Any = 7, sample: str = "Si", owner: str = "A", access: list[str] | None = None,
          last: bool | None = None, proposal: str = "20240001") -> dict[str, Any]:
    meta: dict[str, Any] = {"scan_status": {"value": "finished"}, "sample": {"value": sample, "unit": ""},
                            "series": {"value": series, "unit": ""}}
    if last is not None:
        meta["series_last"] = {"value": last, "unit": ""}
    return {"_id": f"p/{n}", "pid": f"p/{n}", "type": "raw", "ownerGroup": owner, "accessGroups": access or ["R"],
            "proposalIds": [proposal], "instrumentIds": ["sim"], "dataFormat": "dat", "datasetName": f"scan {n}",
            "creationTime": NOW + timedelta(minutes=n), "scientificMetadata": meta}


def _worker(scans: list[dict[str, Any]], rule: ReductionRule = RULE,
            tmp_path: Any = None) -> tuple[Worker, FakeCatalogue, FakeJobStore, ScriptedRunner]:
    catalogue = FakeCatalogue(scans, {s["_id"]: [f"/data/{s['_id']}.dat"] for s in scans})
    jobs, runner = FakeJobStore(), ScriptedRunner()
    worker = Worker(jobs, catalogue, runner, ReductionRuleSet(rules=[rule]),
                    ScireduceSettings(work_dir=tmp_path or "/tmp/scizoo-test-work", pid_prefix="test"),
                    worker="w1", clock=FakeClock(NOW))
    return worker, catalogue, jobs, runner


def _event(n: int) -> DatasetIngested:
    return DatasetIngested(pid=f"p/{n}", message_id=f"m{n}", beamline="sim", proposal_id="20240001",
                           status="finished", ingested_at=NOW)


def test_a_group_is_reduced_once_when_complete_with_every_scan_an_input(tmp_path) -> None:
    scans = [_scan(n) for n in (1, 2, 3, 4)]
    worker, catalogue, jobs, runner = _worker(scans[:3], tmp_path=tmp_path)
    for n in (1, 2, 3):
        assert worker.handle(_event(n)) == []  # not complete yet: nothing runs
    assert runner.runs == [] and jobs.docs == {}
    catalogue.datasets["p/4"], catalogue.files["p/4"] = scans[3], ["/data/p/4.dat"]
    done = worker.handle(_event(4))
    assert [j["state"] for j in done] == [JobState.SUCCEEDED]
    assert done[0]["datasetId"] == "p/4" and done[0]["inputIds"] == ["p/1", "p/2", "p/3", "p/4"]
    spec = runner.runs[0][0]
    assert spec.group == [(f"p/{n}", f"/data/p/{n}.dat") for n in (1, 2, 3, 4)]
    (derived,) = catalogue.derived.values()
    assert derived.dataset.inputDatasets == ["p/1", "p/2", "p/3", "p/4"]
    assert derived.dataset.scientificMetadata["scans"]["value"] == 4
    # Every scan's event again (redelivered, or read by another worker): the same job, not run again.
    for n in (1, 2, 3, 4):
        assert worker.handle(_event(n))[0]["_id"] == done[0]["_id"]
    assert len(runner.runs) == 1 and len(catalogue.derived) == 1


def test_a_late_scan_makes_a_new_revision_and_the_old_result_is_kept(tmp_path) -> None:
    scans = [_scan(n) for n in (1, 2, 3, 4, 5)]
    worker, catalogue, _, runner = _worker(scans[:4], tmp_path=tmp_path)
    first = worker.handle(_event(4))[0]
    catalogue.datasets["p/5"], catalogue.files["p/5"] = scans[4], ["/data/p/5.dat"]
    late = worker.handle(_event(5))[0]
    assert late["_id"] != first["_id"] and late["inputIds"] == [f"p/{n}" for n in (1, 2, 3, 4, 5)]
    assert len(catalogue.derived) == 2  # both revisions
    assert sorted(len(d.dataset.inputDatasets) for d in catalogue.derived.values()) == [4, 5]
    assert len(runner.runs) == 2


def test_groups_are_per_owner_series_and_sample_and_a_result_is_shared_only_where_every_scan_is(tmp_path) -> None:
    scans = [_scan(1, access=["R", "S"]), _scan(2, access=["R"]), _scan(3), _scan(4, access=["R", "S"]),
             _scan(5, series=8), _scan(6, sample="Ge"), _scan(7, owner="B"), _scan(8, proposal="20249999")]
    worker, catalogue, _, _ = _worker(scans, tmp_path=tmp_path)
    done = worker.handle(_event(4))
    assert done[0]["inputIds"] == ["p/1", "p/2", "p/3", "p/4"]  # not 5, 6, 7 or 8
    (derived,) = catalogue.derived.values()
    assert derived.dataset.accessGroups == ["R"]  # S may read scans 1 and 4, not 2 and 3
    # Another series of 1 scan: not complete.
    assert worker.handle(_event(5)) == []


def test_a_scan_marked_last_completes_its_group(tmp_path) -> None:
    rule = RULE.model_copy(update={"group": GroupBy(keys=["series"], last="series_last")})
    scans = [_scan(1), _scan(2, last=False), _scan(3, last=True)]
    worker, catalogue, _, _ = _worker(scans[:2], rule, tmp_path=tmp_path)
    assert worker.handle(_event(2)) == []
    catalogue.datasets["p/3"], catalogue.files["p/3"] = scans[2], ["/data/p/3.dat"]
    done = worker.handle(_event(3))
    assert done[0]["inputIds"] == ["p/1", "p/2", "p/3"]


def test_a_scan_without_the_groups_keys_is_not_reduced(tmp_path) -> None:
    scan = _scan(1)
    del scan["scientificMetadata"]["series"]
    worker, _, jobs, _ = _worker([scan], tmp_path=tmp_path)
    assert worker.handle(_event(1)) == [] and jobs.docs == {}


def test_a_group_needs_a_way_to_be_complete_and_plain_keys() -> None:
    with pytest.raises(ValidationError, match="a count of scans, a 'last' key"):
        GroupBy(keys=["series"])
    with pytest.raises(ValidationError):
        GroupBy(keys=["$where"], count=2)
    with pytest.raises(ValidationError):
        GroupBy(keys=["a.b"], count=2)
    with pytest.raises(ValidationError):
        GroupBy(keys=["series"], count=1)


def test_a_group_that_has_gone_quiet_is_run_by_the_sweep_once(tmp_path) -> None:
    rule = RULE.model_copy(update={"group": GroupBy(keys=["series"], quiet_s=600)})
    scans = [_scan(1), _scan(2), _scan(3, series=9)]  # made at NOW + 1, 2 and 3 minutes
    worker, _, _, runner = _worker(scans, rule, tmp_path=tmp_path)
    clock = worker.clock
    assert isinstance(clock, FakeClock)
    clock.now = NOW + timedelta(minutes=2, seconds=599)
    assert worker.handle(_event(2)) == [] and worker.sweep() == []  # series 7 quiet for 599 s only
    clock.now = NOW + timedelta(minutes=2, seconds=600)
    (done,) = worker.sweep()
    assert done["state"] == JobState.SUCCEEDED and done["inputIds"] == ["p/1", "p/2"]
    clock.now = NOW + timedelta(minutes=3, seconds=600)  # series 9 (one scan) now quiet too
    assert [j["inputIds"] for j in worker.sweep()] == [["p/3"]]
    assert worker.sweep() == [] and len(runner.runs) == 2  # each group run once
    clock.now = NOW + timedelta(days=2)  # past the horizon: not looked at again
    assert worker.sweep() == []

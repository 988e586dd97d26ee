"""Reduction jobs on a real Dask cluster (a ``dask scheduler`` and two ``dask worker`` processes),
what ran each job pinned on it and in its file, and ``scireduce reproduce`` on a derived file."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import h5py
import psutil
import pytest
from typer.testing import CliRunner

from scireduce import Reducer, Rule, RuleSet, ScireduceSettings
from scireduce._cli import app
from scizoo.core import DATASET_COLLECTION, JOB_COLLECTION, DatasetIngested
from tests.dask_cluster import LocalDaskCluster
from tests.helpers import PID_PREFIX, wait_for
from tests.system.test_reduction import _finished_raw, _scan_file

pytestmark = pytest.mark.system
#: How long the slow pipeline's load step sleeps on the dask workers (long enough to kill one mid-job).
SLEEP_S = 5


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDaskCluster]:
    folder = tmp_path_factory.mktemp("dask")
    (folder / "started").mkdir()
    with LocalDaskCluster(folder, workers=2, env={"SCIZOO_TEST_JOB_SLEEP_S": str(SLEEP_S),
                                                  "SCIZOO_TEST_JOB_STARTED_DIR": str(folder / "started")}) as running:
        yield running


def _event(pid: str) -> DatasetIngested:
    return DatasetIngested(pid=pid, message_id=f"m-{pid}", beamline="sim", proposal_id="A", status="finished",
                           ingested_at=datetime.now(UTC))


def _dask_settings(cluster: LocalDaskCluster, tmp_path: Path, worker: str) -> ScireduceSettings:
    return ScireduceSettings(work_dir=tmp_path / "work", pid_prefix=PID_PREFIX, module_pipelines=True, runner="dask",
                             dask_scheduler=cluster.address, worker_id=worker, dask_wait_s=120)


def _kill_a_worker_mid_job(address: str, started: Path, killed: dict[str, object]) -> None:
    """SIGKILL the worker process of a dask worker whose job's process is in its pipeline (it said
    so in ``started``); its nanny starts a new worker process, and the job's process must die too."""
    from distributed import Client

    wait_for(lambda: any(started.iterdir()), timeout=120, what="a job's process in its pipeline on Dask")
    job = int(next(started.iterdir()).name)
    worker_pid = psutil.Process(job).parent().pid
    with Client(address, timeout=30, set_as_default=False) as watcher:
        addresses = {pid: addr for addr, pid in watcher.run(os.getpid).items()}
    os.kill(worker_pid, signal.SIGKILL)
    killed.update(worker=addresses[worker_pid], pid=worker_pid, jobs=[job])


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_jobs_on_dask_are_each_done_once_when_a_worker_is_killed_mid_job(cluster, db, tmp_path) -> None:
    """Two scireduce workers send four slow jobs to two dask workers; one dask worker process is
    SIGKILLed while it runs a job. Dask runs that job again on a worker that lives: four jobs
    succeeded at their first attempt, four derived datasets, and the killed job's process died with its worker."""
    pids = [f"p/d{n}" for n in range(4)]
    for n, pid in enumerate(pids):
        _finished_raw(db, pid, _scan_file(tmp_path / f"raw{n}"))
    rules = RuleSet(rules=[Rule(name="slow", pipeline="tests.reduce_pipelines:SLOW", timeout_s=60,
                                params={"bin": {"bins": 2}})])
    reducers = [Reducer(db, rules, _dask_settings(cluster, tmp_path, f"r{n}")) for n in range(2)]
    errors: list[BaseException] = []

    def work(reducer: Reducer, mine: list[str]) -> None:
        try:
            for pid in mine:
                reducer.handle(_event(pid))
        except BaseException as err:  # noqa: BLE001 - seen by the test, not lost in a thread
            errors.append(err)

    killed: dict[str, object] = {}
    threads = [threading.Thread(target=work, args=(r, pids[n::2])) for n, r in enumerate(reducers)]
    for thread in threads:
        thread.start()
    try:
        _kill_a_worker_mid_job(cluster.address, cluster.folder / "started", killed)
        for job_pid in killed["jobs"]:  # type: ignore[attr-defined]
            # At once: left alone, it would sleep SLEEP_S more and then write the outputs its re-run writes.
            wait_for(lambda p=job_pid: _gone(p), timeout=2, what=f"the killed worker's job process {job_pid} ending")
    finally:
        for thread in threads:
            thread.join(180)
        for reducer in reducers:
            reducer.runner.close()  # type: ignore[attr-defined]
    assert not errors, errors
    assert killed["jobs"], "the killed worker was running no job process"
    jobs = list(db[JOB_COLLECTION].find())
    assert sorted(j["datasetId"] for j in jobs) == pids
    assert all((j["state"], j["attempt"]) == ("succeeded", 1) for j in jobs), [(j["state"], j["log"]) for j in jobs]
    derived = list(db[DATASET_COLLECTION].find({"type": "derived"}))
    assert len(derived) == 4 and {d["_id"] for d in derived} == {j["derived"] for j in jobs}
    # The job whose worker was killed: run again on a worker that lived, and its log says so.
    again = [j for j in jobs if "run again by Dask" in j["log"]]
    assert len(again) == 1, [j["log"][:300] for j in jobs]
    assert again[0]["provenance"]["runner"]["worker"] != killed["worker"]
    # What ran each job, on the job and in its file.
    for job in jobs:
        provenance = job["provenance"]
        assert provenance["runner"]["kind"] == "dask" and provenance["runner"]["scheduler"] == cluster.address
        assert provenance["pipeline"] == "slow" and provenance["steps"] == {"load": "1", "normalise": "1", "bin": "2"}
        assert provenance["environment"]["lock"].startswith("sha256:") and provenance["scizoo"]
    folder = Path(next(d for d in derived if d["_id"] == again[0]["derived"])["sourceFolder"])
    with h5py.File(folder / "profile.nxs") as f:
        recipe = json.loads(f["entry/process"].attrs["recipe"])
    assert recipe["runner"] == again[0]["provenance"]["runner"] and recipe["pipeline_ref"] == "tests.reduce_pipelines:SLOW"
    # Made on Dask, reproduced here: the same numbers (a module path is run only when allowed).
    refused = CliRunner().invoke(app, ["reproduce", str(folder / "profile.nxs")])
    assert refused.exit_code == 2 and "--module-pipelines" in refused.output
    same = CliRunner().invoke(app, ["reproduce", str(folder / "profile.nxs"), "--module-pipelines"])
    assert same.exit_code == 0 and same.output.startswith("identical"), same.output


def test_timeouts_and_retries_hold_on_dask(cluster, db, tmp_path) -> None:
    """A hanging job is killed on its dask worker at its rule's timeout; a failing one fails with
    its reason and is tried again (its attempts counted) while it has attempts left."""
    _finished_raw(db, "p/t1", _scan_file(tmp_path / "raw"))
    rules = RuleSet(rules=[Rule(name="stuck", pipeline="tests.reduce_pipelines:HANGING", timeout_s=3),
                           Rule(name="boom", pipeline="tests.reduce_pipelines:FAILING")])
    reducer = Reducer(db, rules, _dask_settings(cluster, tmp_path, "r"))
    try:
        stuck, boom = reducer.handle(_event("p/t1"))
        assert stuck["state"] == "failed" and "killed after its timeout of 3 s" in stuck["log"]
        assert "on Dask worker tcp://127.0.0.1:" in stuck["log"]
        assert boom["state"] == "failed" and "RuntimeError: this reduction always fails" in boom["log"]
        again = reducer.handle(_event("p/t1"))[1]  # the event delivered again: the failed job is retried
        assert (again["state"], again["attempt"]) == ("failed", 2)
    finally:
        reducer.runner.close()  # type: ignore[attr-defined]


def test_an_unreachable_scheduler_is_said_in_one_sentence(db, tmp_path) -> None:
    from scireduce._runner import runner_for, start_runner
    from scizoo.core import DependencyUnavailable

    settings = ScireduceSettings(runner="dask", dask_scheduler="tcp://127.0.0.1:9", dask_connect_timeout_s=2)
    with pytest.raises(DependencyUnavailable, match=r"scireduce cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"):
        start_runner(runner_for(settings))
    with pytest.raises(ValueError, match="SCIREDUCE_RUNNER=dask needs SCIREDUCE_DASK_SCHEDULER"):
        ScireduceSettings(runner="dask")


def test_reproduce_says_identical_or_which_arrays_differ(db, tmp_path) -> None:
    """A job's derived file, reproduced from its recipe: identical; a tampered copy names the array
    that differs (tolerance 0 by default, an option widens it); a changed input cannot be reproduced."""
    raw = _scan_file(tmp_path / "raw")
    _finished_raw(db, "p/r1", raw)
    rules = RuleSet(rules=[Rule(name="p", pipeline="profile", params={"bin": {"bins": 3}})])
    job = Reducer(db, rules, ScireduceSettings(work_dir=tmp_path / "work", pid_prefix=PID_PREFIX)).handle(_event("p/r1"))[0]
    assert job["state"] == "succeeded"
    provenance = db[JOB_COLLECTION].find_one({"_id": job["_id"]})["provenance"]
    assert provenance["runner"]["kind"] == "subprocess" and provenance["pipeline_version"] == "1"
    nexus = Path(db[DATASET_COLLECTION].find_one({"_id": job["derived"]})["sourceFolder"]) / "profile.nxs"
    cli = CliRunner()
    same = cli.invoke(app, ["reproduce", str(nexus)])
    assert same.exit_code == 0 and "identical" in same.output and "entry/data/y" in same.output, same.output
    tampered = tmp_path / "tampered.nxs"
    shutil.copy(nexus, tampered)
    with h5py.File(tampered, "r+") as f:
        f["entry/data/y"][1] += 1e-9
    different = cli.invoke(app, ["reproduce", str(tampered)])
    assert different.exit_code == 1 and "entry/data/y: 1 of 3 values differ" in different.output, different.output
    assert "entry/data/x" not in different.output
    assert cli.invoke(app, ["reproduce", str(tampered), "--atol", "1e-6"]).exit_code == 0
    raw.write_text(raw.read_text() + "6.0 10 1000\n")  # the input changed since
    changed = cli.invoke(app, ["reproduce", str(nexus)])
    assert changed.exit_code == 2 and "changed since" in changed.output


def test_reproduce_runs_a_group_reduction_again_as_it_ran(db, tmp_path) -> None:
    """A stitched series (four scans, the shipped ``stitch`` pipeline): its recipe names every input
    and that the pipeline took them as a group, so reproduce runs the four again: identical."""
    from scizoo.core import GroupBy, ReductionRule, ReductionRuleSet
    from tests.system.test_group_reduction import _event as _series_event
    from tests.system.test_group_reduction import _store_scan

    rule = ReductionRule(name="reflectivity", pipeline="stitch", beamline="sim", file_pattern="scan_*.dat",
                         group=GroupBy(keys=["sample_name", "series_id"], count=4), timeout_s=120)
    reducer = Reducer(db, ReductionRuleSet(rules=[rule]), ScireduceSettings(work_dir=tmp_path / "work",
                                                                              pid_prefix=PID_PREFIX))
    (tmp_path / "raw").mkdir()
    for n in (1, 2, 3, 4):
        _store_scan(db, tmp_path / "raw", n)
    (job,) = reducer.handle(_series_event(4))
    assert job["state"] == "succeeded", job.get("log")
    nexus = Path(db[DATASET_COLLECTION].find_one({"_id": job["derived"]})["sourceFolder"]) / "profile.nxs"
    with h5py.File(nexus) as f:
        recipe = json.loads(f["entry/process"].attrs["recipe"])
    assert recipe["group"] is True and len(recipe["inputs"]) == 4
    same = CliRunner().invoke(app, ["reproduce", str(nexus)])
    assert same.exit_code == 0 and same.output.startswith("identical"), same.output

"""Reduction hooks end to end: a scan ingested by scicow, its "ingested" event, a worker of the
consumer group, the job, and the derived dataset with its provenance, numbers checked."""

from __future__ import annotations

import json
import math
import threading
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import h5py
import pytest

from scireduce import Reducer, Rule, RuleSet, ScireduceSettings, run_worker
from scizoo.core import (
    ATTACHMENT_COLLECTION,
    DATASET_COLLECTION,
    JOB_COLLECTION,
    DataFile,
    DatasetIngested,
    RecordedEntry,
    ScanBlock,
    ScanMetadata,
    attachments_of,
)
from tests.helpers import PID_PREFIX, wait_for
from tests.system.test_pipeline import _produce

pytestmark = pytest.mark.system
ROWS = [(0.0, 120, 1000), (1.0, 150, 980), (2.0, 0, 1010), (3.0, 240, 990), (4.0, 300, 1005), (5.0, 280, 995)]


def _scan_file(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "scan_00001.dat"
    path.write_text("# x counts monitor\n" + "".join(f"{x} {c} {m}\n" for x, c, m in ROWS))
    return path


def _nexus_scan_file(folder: Path) -> Path:
    """The same scan as the simulated beamline writes it: NeXus (NXdata counts over x, NXmonitor)."""
    from scizoo.testing.nexus import write_scan_nexus

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    return write_scan_nexus(folder / "scan_00001.nxs", x=[r[0] for r in ROWS], counts=[r[1] for r in ROWS],
                            monitor=[r[2] for r in ROWS], title="ascan mot01 0 5 5 0.1", start=now, end=now)


def _message(path: Path, energy: float = 7100.0) -> ScanMetadata:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    return ScanMetadata(
        message_id="reduce-1", beamline="sim", source="manual", proposal_id="20240001", data_path=str(path.parent),
        scan=ScanBlock(id="1", start=now, end=now, files=[DataFile(path=str(path), size=path.stat().st_size, time=now)]),
        entries=[RecordedEntry(name="photon_energy", device="sim/energy/1", attribute="energy", value=energy,
                               raw_value=energy, unit="eV")],
        produced_at=now)


def _expected(scale: float, bins: int) -> list[tuple[float, float, float]]:
    """Computed here, apart from the pipeline: y = s c / m, sigma = y sqrt(1/c + 1/m) (s / m at c = 0)."""
    points = [(x, scale * c / m, scale * c / m * math.sqrt(1 / c + 1 / m) if c else scale / m) for x, c, m in ROWS]
    width = (5.0 - 0.0) / bins
    out = []
    for i in range(bins):
        inside = [p for p in points if min(int(p[0] / width), bins - 1) == i]
        if inside:
            out.append(((i + 0.5) * width, sum(p[1] for p in inside) / len(inside),
                        math.sqrt(sum(p[2] ** 2 for p in inside)) / len(inside)))
    return out


def test_a_finished_scan_is_reduced_into_a_derived_dataset(kafka, scicow, scicow_settings, db, prefix, tmp_path) -> None:
    scicow()
    path = _nexus_scan_file(tmp_path / "raw")
    rules = tmp_path / "rules.yaml"
    rules.write_text(json.dumps({"rules": [{"name": "p", "pipeline": "profile", "beamline": "sim",
                                            "file_pattern": "scan_*.nxs", "when": [{"key": "photon_energy", "op": ">",
                                                                                    "value": 7000}],
                                            "params": {"normalise": {"scale": 1000}, "bin": {"bins": 3}}}]}))
    settings = ScireduceSettings(kafka_bootstrap=kafka.bootstrap_servers, topic_prefix=prefix, group_id=f"r-{prefix}",
                                 mongo_uri=scicow_settings.mongo_uri, database=db.name, rules_file=rules,
                                 work_dir=tmp_path / "work", pid_prefix=PID_PREFIX, max_poll_interval_ms=5000,
                                 session_timeout_ms=6000, heartbeat_interval_ms=1000)
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(settings, stop), daemon=True)
    worker.start()
    try:
        _produce(kafka.bootstrap_servers, prefix, [_message(path)])
        datasets = db[DATASET_COLLECTION]
        wait_for(lambda: datasets.count_documents({"type": "derived"}) == 1, timeout=90, what="the derived dataset")
    finally:
        stop.set()
        worker.join(30)
    raw = datasets.find_one({"type": "raw"})
    derived = datasets.find_one({"type": "derived"})
    assert derived["inputDatasets"] == [raw["pid"]] and derived["ownerGroup"] == raw["ownerGroup"]
    assert derived["usedSoftware"][1:] == ["profile 1", "load 2", "normalise 1", "bin 2"]
    assert derived["scientificMetadata"]["points"]["value"] == len(ROWS)
    assert derived["jobParameters"]["params"] == {"normalise": {"scale": 1000}, "bin": {"bins": 3}}
    assert "executed steps: load, normalise, bin" in derived["jobLogData"]
    job = db[JOB_COLLECTION].find_one()
    assert job["state"] == "succeeded" and job["derived"] == derived["pid"] and job["attempt"] == 1
    # The numbers, and the recipe in the file itself.
    nexus = next(f for f in (Path(derived["sourceFolder"]) / n for n in ("profile.nxs",)) if f.exists())
    with h5py.File(nexus) as f:
        got = list(zip(f["entry/data/x"][()], f["entry/data/y"][()], f["entry/data/y_errors"][()], strict=True))
        recipe = json.loads(f["entry/process"].attrs["recipe"])
    for (gx, gy, gs), (ex, ey, es) in zip(got, _expected(1000, 3), strict=True):
        assert gx == pytest.approx(ex) and gy == pytest.approx(ey) and gs == pytest.approx(es)
    assert recipe["inputs"][0]["pid"] == raw["pid"] and len(recipe["inputs"][0]["sha1"]) == 40
    assert [s["name"] for s in recipe["steps"]] == ["load", "normalise", "bin"]
    plot = db[ATTACHMENT_COLLECTION].find_one(attachments_of(derived["pid"]))
    assert plot["thumbnail"].startswith("data:image/png;base64,")


def test_failing_and_hanging_reductions_fail_with_their_reason(mongo_client, db, tmp_path) -> None:
    path = _scan_file(tmp_path / "raw")
    raw = {"_id": "p/1", "pid": "p/1", "type": "raw", "ownerGroup": "A", "instrumentIds": ["sim"], "dataFormat": "dat",
           "scientificMetadata": {"scan_status": {"value": "finished"}}}
    db[DATASET_COLLECTION].insert_one(raw)
    db["OrigDatablock"].insert_one({"_id": "b1", "datasetId": "p/1", "dataFileList": [{"path": str(path), "size": 1}]})
    rules = RuleSet(rules=[Rule(name="boom", pipeline="tests.reduce_pipelines:FAILING"),
                           Rule(name="stuck", pipeline="tests.reduce_pipelines:HANGING", timeout_s=3),
                           Rule(name="fine", pipeline="profile", params={"bin": {"bins": 2}})])
    reducer = Reducer(db, rules, ScireduceSettings(work_dir=tmp_path / "work", pid_prefix=PID_PREFIX, module_pipelines=True))
    event = DatasetIngested(pid="p/1", message_id="m", beamline="sim", proposal_id="A", status="finished",
                            ingested_at=datetime.now(UTC))
    boom, stuck, fine = reducer.handle(event)
    assert boom["state"] == "failed" and "RuntimeError: this reduction always fails" in boom["log"]
    assert "Traceback" in boom["log"]
    assert stuck["state"] == "failed" and "killed after its timeout of 3 s" in stuck["log"]
    assert fine["state"] == "succeeded"  # the worker goes on
    again = reducer.handle(event)  # a redelivered event: the succeeded job is not run again
    assert again[2]["state"] == "succeeded" and again[2]["attempt"] == 1
    assert db[DATASET_COLLECTION].count_documents({"type": "derived"}) == 1


def _finished_raw(db, pid: str, path: Path) -> None:
    """A finished raw scan of group A with one file, as scicow writes it (the fields the rules read)."""
    db[DATASET_COLLECTION].insert_one({"_id": pid, "pid": pid, "type": "raw", "ownerGroup": "A",
                                       "instrumentIds": ["sim"], "dataFormat": "dat", "creationTime": datetime.now(UTC),
                                       "scientificMetadata": {"scan_status": {"value": "finished"}}})
    db["OrigDatablock"].insert_one({"_id": f"block-{pid}", "datasetId": pid,
                                    "dataFileList": [{"path": str(path), "size": 1}]})


def test_a_failing_reduction_is_tried_three_times_in_all_and_then_left_failed(db, tmp_path) -> None:
    path = _scan_file(tmp_path / "raw")
    _finished_raw(db, "p/2", path)
    rules = RuleSet(rules=[Rule(name="boom", pipeline="tests.reduce_pipelines:FAILING")])
    reducer = Reducer(db, rules, ScireduceSettings(work_dir=tmp_path / "work", pid_prefix=PID_PREFIX, module_pipelines=True))
    event = DatasetIngested(pid="p/2", message_id="m2", beamline="sim", proposal_id="A", status="finished",
                            ingested_at=datetime.now(UTC))
    seen = [reducer.handle(event)[0] for _ in range(5)]  # the event delivered five times
    assert [job["attempt"] for job in seen] == [1, 2, 3, 3, 3]
    assert all(job["state"] == "failed" for job in seen)
    assert db[JOB_COLLECTION].find_one({"_id": seen[0]["_id"]})["state"] == "failed"  # not left "running"


def test_the_scan_table_shows_each_scans_reductions_and_links_its_derived_dataset(mongo, db, tmp_path) -> None:
    from fastapi.testclient import TestClient

    from scanlog_api import ScanlogSettings, TokenUser, create_app

    path = _scan_file(tmp_path / "raw")
    _finished_raw(db, "p/3", path)
    rules = RuleSet(rules=[Rule(name="boom", pipeline="tests.reduce_pipelines:FAILING"),
                           Rule(name="fine", pipeline="profile", params={"bin": {"bins": 2}})])
    reducer = Reducer(db, rules, ScireduceSettings(work_dir=tmp_path / "work", pid_prefix=PID_PREFIX, module_pipelines=True))
    event = DatasetIngested(pid="p/3", message_id="m3", beamline="sim", proposal_id="A", status="finished",
                            ingested_at=datetime.now(UTC))
    _, fine = reducer.handle(event)
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, tokens={
        "ta": TokenUser(user="alice", groups=["A"]), "tb": TokenUser(user="bob", groups=["B"])})
    with TestClient(create_app(settings)) as client:
        alice = {"Authorization": "Bearer ta"}
        rows = {r["pid"]: r for r in client.get("/api/scans", headers=alice).json()["data"]}
        assert rows["p/3"]["reduction"] == "succeeded"  # its latest job
        detail = client.get("/api/scans/p/3", headers=alice).json()
        states = {j["rule"]: (j["state"], j["derived"]) for j in detail["reductions"]}
        assert states == {"boom": ("failed", None), "fine": ("succeeded", fine["derived"])}
        assert "RuntimeError: this reduction always fails" in next(
            j["log"] for j in detail["reductions"] if j["rule"] == "boom")
        assert client.get(f"/api/scans/{fine['derived']}", headers=alice).status_code == 200
        # Someone who may not read the scan learns nothing of its reductions either.
        assert client.get("/api/scans/p/3", headers={"Authorization": "Bearer tb"}).status_code == 404


def test_a_rerun_with_changed_parameters_makes_a_new_derived_dataset_and_keeps_the_old(db, tmp_path) -> None:
    path = _scan_file(tmp_path / "raw")
    _finished_raw(db, "p/4", path)
    rules = RuleSet(rules=[Rule(name="p", pipeline="profile", params={"bin": {"bins": 2}}),
                           Rule(name="boom", pipeline="tests.reduce_pipelines:FAILING")])
    reducer = Reducer(db, rules, ScireduceSettings(work_dir=tmp_path / "work", pid_prefix=PID_PREFIX, module_pipelines=True))
    event = DatasetIngested(pid="p/4", message_id="m4", beamline="sim", proposal_id="A", status="finished",
                            ingested_at=datetime.now(UTC))
    first, boom = reducer.handle(event)
    again = reducer.rerun("p/4", "p", {"bin": {"bins": 3}})
    assert again["state"] == "succeeded" and again["rule"] == "p.r1" and again["params"] == {"bin": {"bins": 3}}
    derived = {d["_id"]: d for d in db[DATASET_COLLECTION].find({"type": "derived"})}
    assert set(derived) == {first["derived"], again["derived"]}  # the old one kept
    assert derived[first["derived"]]["jobParameters"]["params"] == {"bin": {"bins": 2}}
    assert derived[again["derived"]]["jobParameters"]["params"] == {"bin": {"bins": 3}}
    assert derived[again["derived"]]["scientificMetadata"]["bins"]["value"] == 3
    assert reducer.rerun("p/4", "p", {})["rule"] == "p.r2"
    # Refused with the reason, before any job is made.
    with pytest.raises(ValueError, match="parameters refused by pipeline 'profile'"):
        reducer.rerun("p/4", "p", {"bin": {"bins": "many"}})
    with pytest.raises(LookupError, match="no rule 'nope'"):
        reducer.rerun("p/4", "nope", {})
    # Cancel: the failed job is never run again, even when its event comes back.
    assert boom["state"] == "failed"
    assert reducer.cancel(boom["_id"])["state"] == "cancelled"
    _, boom_again = reducer.handle(event)
    assert boom_again["state"] == "cancelled" and boom_again["attempt"] == 1
    with pytest.raises(ValueError, match="has succeeded already"):
        reducer.cancel(first["_id"])


def test_the_rerun_and_cancel_commands(mongo, db, tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from scireduce._cli import app

    path = _scan_file(tmp_path / "raw")
    _finished_raw(db, "p/5", path)
    rules = tmp_path / "rules.yaml"
    rules.write_text(json.dumps({"rules": [{"name": "p", "pipeline": "profile"}]}))
    for key, value in {"MONGO_URI": mongo.uri, "DATABASE": db.name, "RULES_FILE": str(rules),
                       "WORK_DIR": str(tmp_path / "work"), "PID_PREFIX": PID_PREFIX}.items():
        monkeypatch.setenv(f"SCIREDUCE_{key}", value)
    runner = CliRunner()
    done = runner.invoke(app, ["rerun", "p/5", "p", "--param", "bin.bins=4", "--param", "normalise.scale=10"])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("succeeded p/5#p.r1: ")
    job = db[JOB_COLLECTION].find_one({"_id": "p/5#p.r1"})
    assert job["params"] == {"bin": {"bins": 4}, "normalise": {"scale": 10}}
    refused = runner.invoke(app, ["rerun", "p/5", "p", "--param", "bins"])
    assert refused.exit_code == 2 and "write step.key=value" in refused.output
    cancel = runner.invoke(app, ["cancel", "p/5#p.r1"])
    assert cancel.exit_code == 2 and "has succeeded already" in cancel.output


def test_a_worker_sigkilled_mid_job_leaves_a_job_another_worker_completes_once(
    kafka, scicow, scicow_settings, db, prefix, tmp_path
) -> None:
    """Worker A (a ``scireduce run`` process) takes the job, is SIGKILLed with its job while
    the job runs; worker B of the same group gets the uncommitted event, sees the job alive,
    and takes it over once it is past its timeout: one derived dataset, attempt 2, by B."""
    import os
    import signal
    import subprocess
    import sys

    from tests.helpers import ROOT

    scicow()
    path = _scan_file(tmp_path / "raw")
    rules = tmp_path / "rules.yaml"
    # The timeout bounds worker B's own run too: a job's process alone takes seconds to start
    # (h5py, matplotlib) on a loaded machine, 5 to 6 s at a load of 12 on 2 cores.
    rules.write_text(json.dumps({"rules": [{"name": "slow", "pipeline": "tests.reduce_pipelines:SLOW",
                                            "timeout_s": 15}]}))
    common = {"KAFKA_BOOTSTRAP": kafka.bootstrap_servers, "TOPIC_PREFIX": prefix, "GROUP_ID": f"r-{prefix}",
              "MONGO_URI": scicow_settings.mongo_uri.get_secret_value(), "DATABASE": db.name,
              "RULES_FILE": str(rules), "PID_PREFIX": PID_PREFIX, "STALE_AFTER_S": "1", "SWEEP_INTERVAL_S": "1",
              "MAX_POLL_INTERVAL_MS": "5000", "SESSION_TIMEOUT_MS": "6000", "HEARTBEAT_INTERVAL_MS": "1000",
              "MODULE_PIPELINES": "true"}
    env = {**os.environ, **{f"SCIREDUCE_{k}": v for k, v in common.items()}, "SCIREDUCE_WORKER_ID": "worker-a",
           "SCIREDUCE_WORK_DIR": str(tmp_path / "work-a"), "SCIZOO_TEST_JOB_SLEEP_S": "30"}
    log = (tmp_path / "worker-a.log").open("wb")
    worker_a = subprocess.Popen([sys.executable, "-m", "scizoo.cli", "scireduce", "run", "--no-verbose"], env=env,
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    jobs = db[JOB_COLLECTION]
    try:
        _produce(kafka.bootstrap_servers, prefix, [_message(path)])
        wait_for(lambda: (jobs.find_one() or {}).get("worker") == "worker-a", timeout=90, what="worker A's job")
        assert jobs.find_one()["state"] == "running"
    finally:
        os.killpg(worker_a.pid, signal.SIGKILL)  # the worker and its job, as a node that dies
        worker_a.wait()
        log.close()
    settings_b = ScireduceSettings(**{k.lower(): v for k, v in common.items()}, worker_id="worker-b",
                                   work_dir=tmp_path / "work-b")
    stop = threading.Event()
    worker_b = threading.Thread(target=run_worker, args=(settings_b, stop), daemon=True)
    worker_b.start()
    try:
        wait_for(lambda: (jobs.find_one() or {}).get("state") == "succeeded", timeout=90,
                 what="the job completed by worker B")
    finally:
        stop.set()
        worker_b.join(30)
    job = jobs.find_one()
    assert (job["worker"], job["attempt"]) == ("worker-b", 2)
    derived = list(db[DATASET_COLLECTION].find({"type": "derived"}))
    assert len(derived) == 1 and derived[0]["_id"] == job["derived"]


def test_a_rerun_and_a_cancel_asked_for_through_the_scan_tables_api(mongo, db, tmp_path) -> None:
    from fastapi.testclient import TestClient

    from scanlog_api import ScanlogSettings, TokenUser, create_app

    path = _scan_file(tmp_path / "raw")
    _finished_raw(db, "p/6", path)
    db[DATASET_COLLECTION].update_one({"_id": "p/6"}, {"$set": {"accessGroups": ["R"]}})
    rules = RuleSet(rules=[Rule(name="fine", pipeline="profile", params={"bin": {"bins": 2}})])
    reducer = Reducer(db, rules, ScireduceSettings(work_dir=tmp_path / "work", pid_prefix=PID_PREFIX, module_pipelines=True))
    event = DatasetIngested(pid="p/6", message_id="m6", beamline="sim", proposal_id="A", status="finished",
                            ingested_at=datetime.now(UTC))
    (first,) = reducer.handle(event)
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, tokens={
        "ta": TokenUser(user="alice", groups=["A"]), "tr": TokenUser(user="rita", groups=["R"]),
        "tb": TokenUser(user="bob", groups=["B"])})
    with TestClient(create_app(settings)) as client:
        alice, rita, bob = ({"Authorization": f"Bearer {t}"} for t in ("ta", "tr", "tb"))
        url = "/api/scans/p/6/reductions"
        # Reading is not writing; not reading is not knowing; a write needs a token.
        assert client.post(url, json={"rule": "fine"}, headers=rita).status_code == 403
        assert client.post(url, json={"rule": "fine"}, headers=bob).status_code == 404
        assert client.post(url, json={"rule": "fine"}).status_code == 401
        refused = client.post(url, json={"rule": "other"}, headers=alice)
        assert refused.status_code == 422 and "the rules that have: fine" in refused.text
        asked = client.post(url, json={"rule": "fine", "params": {"bin": {"bins": 3}}}, headers=alice)
        assert asked.status_code == 202, asked.text
        assert asked.json() == {"id": "p/6#fine.r1", "rule": "fine.r1", "state": "queued",
                                "params": {"bin": {"bins": 3}}}
        bad = client.post(url, json={"rule": "fine", "params": {"bin": {"bins": "many"}}}, headers=alice).json()
        doomed = client.post(url, json={"rule": "fine"}, headers=alice).json()
        assert (bad["id"], doomed["id"]) == ("p/6#fine.r2", "p/6#fine.r3")
        cancel = f"/api/reductions/{quote(doomed['id'], safe='')}/cancel"
        assert client.post(cancel, headers=rita).status_code == 403
        assert client.post(cancel, headers=alice).json()["state"] == "cancelled"
        assert client.post(cancel, headers=alice).status_code == 409  # cancelled already
        # A worker takes what was asked for: the good one runs, the refused one fails with why.
        # A rerun of a rerun is refused; so is a fourth waiting at once; and bob learns nothing.
        assert client.post(url, json={"rule": "fine.r1"}, headers=alice).status_code == 422
        assert client.post(url, json={"rule": "fine", "params": {"bin": {"no_such": 1}}}, headers=alice).json()[
            "id"] == "p/6#fine.r4"
        assert client.post(url, json={"rule": "fine"}, headers=alice).status_code == 409  # r1, r2, r4 wait
        missing = client.post(cancel, headers=bob)
        assert missing.status_code == 404 and "of a scan you can read" in missing.text
        nothing = client.post(f"/api/reductions/{quote('p/6#nope', safe='')}/cancel", headers=bob)
        assert nothing.status_code == 404  # a job that exists on a scan bob cannot read reads as one that does not
        assert nothing.json()["detail"].replace("p/6#nope", "J") == missing.json()["detail"].replace(doomed["id"], "J")
        # A worker takes what was asked for, one per poll, oldest first: the good one runs,
        # the refused ones fail with why.
        taken: dict = {}
        while got := reducer.take_requested():
            assert len(got) == 1
            taken.update({job["_id"]: job for job in got})
        assert set(taken) == {"p/6#fine.r1", "p/6#fine.r2", "p/6#fine.r4"}
        assert "has no parameter ['no_such']" in taken["p/6#fine.r4"]["log"]
        assert taken["p/6#fine.r1"]["state"] == "succeeded"
        assert taken["p/6#fine.r2"]["state"] == "failed"
        assert "parameters refused by pipeline 'profile'" in taken["p/6#fine.r2"]["log"]
        assert reducer.take_requested() == []  # each once
        derived = db[DATASET_COLLECTION].find_one({"_id": taken["p/6#fine.r1"]["derived"]})
        assert derived["scientificMetadata"]["bins"]["value"] == 3 and derived["inputDatasets"] == ["p/6"]
        assert db[DATASET_COLLECTION].count_documents({"_id": first["derived"]}) == 1  # the old one kept
        jobs = {j["rule"]: j for j in client.get("/api/scans/p/6", headers=alice).json()["reductions"]}
        assert {r: j["state"] for r, j in jobs.items()} == {
            "fine": "succeeded", "fine.r1": "succeeded", "fine.r2": "failed", "fine.r3": "cancelled",
            "fine.r4": "failed"}
        assert jobs["fine.r1"]["requestedBy"] == "alice" and jobs["fine.r1"]["params"] == {"bin": {"bins": 3}}
        succeeded = f"/api/reductions/{quote(first['_id'], safe='')}/cancel"
        assert client.post(succeeded, headers=alice).status_code == 409
        # The jobs list: what the caller may read, newest first, by state.
        listed = client.get("/api/reductions", headers=alice).json()
        assert {j["rule"] for j in listed} == {"fine", "fine.r1", "fine.r2", "fine.r3", "fine.r4"}
        assert all(j["datasetId"] == "p/6" for j in listed)
        failed = client.get("/api/reductions?state=failed", headers=alice).json()
        assert sorted(j["rule"] for j in failed) == ["fine.r2", "fine.r4"]
        assert all("parameters refused" in j["log"] or "no parameter" in j["log"] for j in failed)
        assert client.get("/api/reductions", headers=bob).json() == []  # reads nothing of p/6
        assert {j["rule"] for j in client.get("/api/reductions", headers=rita).json()} == {j["rule"] for j in listed}
        assert client.get("/api/reductions?state=nonsense", headers=alice).status_code == 422


def test_a_rule_runs_its_job_in_another_python_environment(db, tmp_path) -> None:
    import site
    import subprocess
    import sys
    import sysconfig

    # Another environment: a venv of its own, which sees scizoo's packages (one line in a
    # .pth) and holds a pipeline package the worker's own environment does not have.
    env = tmp_path / "reduction-env"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", str(env)],
                   check=True, timeout=120)
    python = env / "bin" / "python"
    packages = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip())
    ours = [p for p in (*site.getsitepackages(), sysconfig.get_paths()["purelib"]) if Path(p).is_dir()]
    (packages / "scizoo-worker-env.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in dict.fromkeys(ours)))
    (packages / "env_only_pipeline.py").write_text(
        "from scireduce import Pipeline\n"
        "from scireduce.pipelines._profile import PROFILE\n"
        "ELSEWHERE = Pipeline(name='elsewhere', version='1', description='profile, installed in one env only',\n"
        "                     steps=PROFILE.steps)\n")
    with pytest.raises(ModuleNotFoundError):
        __import__("env_only_pipeline")  # not in the worker's environment

    path = _scan_file(tmp_path / "raw")
    _finished_raw(db, "p/7", path)
    nowhere = str(tmp_path / "no-such-env/bin/python")
    rules = RuleSet(rules=[Rule(name="there", pipeline="env_only_pipeline:ELSEWHERE", python=str(python),
                                params={"bin": {"bins": 2}}),
                           Rule(name="nowhere", pipeline="profile", python=nowhere),
                           Rule(name="unlisted", pipeline="profile", python=sys.executable)])
    # The worker says which environments a rule may name (rules can come from the API).
    reducer = Reducer(db, rules, ScireduceSettings(work_dir=tmp_path / "work", pid_prefix=PID_PREFIX,
                                                   module_pipelines=True, pythons=[str(python), nowhere]))
    event = DatasetIngested(pid="p/7", message_id="m7", beamline="sim", proposal_id="A", status="finished",
                            ingested_at=datetime.now(UTC))
    there, nowhere_job, unlisted = reducer.handle(event)
    assert there["state"] == "succeeded", there.get("log")
    derived = db[DATASET_COLLECTION].find_one({"_id": there["derived"]})
    recipe = json.loads(derived["scientificMetadata"]["recipe"]["value"])
    assert recipe["pipeline"] == "elsewhere" and recipe["environment"]["python"] == str(python)
    with h5py.File(Path(derived["sourceFolder"]) / "profile.nxs") as f:  # the file says where it ran, too
        assert json.loads(f["entry/process"].attrs["recipe"])["environment"]["python"] == str(python)
    assert nowhere_job["state"] == "failed" and "cannot start the job's Python" in nowhere_job["log"]
    assert unlisted["state"] == "failed" and "not one of this worker's SCIREDUCE_PYTHONS" in unlisted["log"]
    # By default a worker runs registered pipelines only, not a module path a rule names.
    strict = Reducer(db, RuleSet(rules=[Rule(name="mod", pipeline="tests.reduce_pipelines:FAILING")]),
                     ScireduceSettings(work_dir=tmp_path / "work", pid_prefix=PID_PREFIX))
    (refused,) = strict.handle(event)
    assert refused["state"] == "failed" and "is a module path; this worker runs registered pipelines only" in \
        refused["log"]


def test_the_rules_are_read_and_changed_through_the_api_and_the_workers_follow(mongo, db, tmp_path, monkeypatch) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from scanlog_api import ScanlogSettings, TokenUser, create_app
    from scireduce import StoredRules
    from scireduce._cli import app as cli
    from scizoo.core import REDUCTION_RULES_COLLECTION

    seed = tmp_path / "rules.yaml"
    seed.write_text(json.dumps({"rules": [{"name": "p", "pipeline": "profile", "params": {"bin": {"bins": 2}}}]}))
    book = StoredRules(db[REDUCTION_RULES_COLLECTION], seed)
    assert book.seed() and not book.seed()  # the file seeds an empty store only
    reducer = Reducer(db, book.current(), ScireduceSettings(work_dir=tmp_path / "work", pid_prefix=PID_PREFIX))
    assert [r.name for r in reducer.rules.rules] == ["p"]
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, tokens={
        "ta": TokenUser(user="alice", groups=["A"]), "tz": TokenUser(user="zoe", groups=[], admin=True)})
    with TestClient(create_app(settings)) as client:
        alice, admin = {"Authorization": "Bearer ta"}, {"Authorization": "Bearer tz"}
        shown = client.get("/api/reduction-rules", headers=alice).json()
        assert shown["revision"] == 1 and [r["name"] for r in shown["rules"]] == ["p"]
        assert shown["updatedBy"] == f"file {seed}"
        assert client.get("/api/reduction-rules").status_code == 401
        change = {"revision": 1, "rules": [{"name": "p3", "pipeline": "profile", "params": {"bin": {"bins": 3}}}]}
        assert client.put("/api/reduction-rules", json=change, headers=alice).status_code == 403  # not an admin
        done = client.put("/api/reduction-rules", json=change, headers=admin)
        assert done.status_code == 200 and done.json()["revision"] == 2 and done.json()["updatedBy"] == "zoe"
        assert client.put("/api/reduction-rules", json=change, headers=admin).status_code == 409  # from revision 1
        odd = {"name": "x", "pipeline": "profile", "when": [{"key": "e", "op": "~"}]}
        bad = client.put("/api/reduction-rules", headers=admin, json={"revision": 2, "rules": [odd]})
        assert bad.status_code == 422 and "when" in bad.text
        for wrong in ({"name": "p.r2", "pipeline": "profile"}, {"name": "t", "pipeline": "profile", "timeout_s": 1e20}):
            assert client.put("/api/reduction-rules", headers=admin,
                              json={"revision": 2, "rules": [wrong]}).status_code == 422, wrong
    # The worker follows at its next poll: the new rule runs, with its parameters.
    reducer.rules = book.current()
    assert [r.name for r in reducer.rules.rules] == ["p3"]
    path = _scan_file(tmp_path / "raw")
    _finished_raw(db, "p/8", path)
    (job,) = reducer.handle(DatasetIngested(pid="p/8", message_id="m8", beamline="sim", proposal_id="A",
                                            status="finished", ingested_at=datetime.now(UTC)))
    assert job["rule"] == "p3" and job["state"] == "succeeded"
    assert db[DATASET_COLLECTION].find_one({"_id": job["derived"]})["scientificMetadata"]["bins"]["value"] == 3
    # A revision written around the API that does not validate: the last good rules stay.
    db[REDUCTION_RULES_COLLECTION].update_one({}, {"$set": {"rules": [{"name": "broken"}]}, "$inc": {"revision": 1}})
    assert [r.name for r in book.current().rules] == ["p3"]
    # Export and import as YAML.
    for key, value in {"MONGO_URI": mongo.uri, "DATABASE": db.name, "RULES_FILE": str(seed),
                       "WORK_DIR": str(tmp_path / "work"), "PID_PREFIX": PID_PREFIX}.items():
        monkeypatch.setenv(f"SCIREDUCE_{key}", value)
    runner = CliRunner()
    imported = runner.invoke(cli, ["rules", "import", str(seed)])
    assert imported.exit_code == 0 and "revision 4" in imported.output, imported.output
    exported = runner.invoke(cli, ["rules", "export"])
    assert exported.exit_code == 0 and "name: p\n" in exported.output and "bins: 2" in exported.output


def test_a_job_run_again_never_unpublishes_or_unshares_its_derived_dataset(db, tmp_path) -> None:
    """A dead worker's job taken over after it wrote its derived dataset writes it again: only
    what the reduction owns changes; what was published or shared meanwhile stays (issue 18)."""
    path = _scan_file(tmp_path / "raw")
    _finished_raw(db, "p/9", path)
    rules = RuleSet(rules=[Rule(name="fine", pipeline="profile", params={"bin": {"bins": 2}})])
    reducer = Reducer(db, rules, ScireduceSettings(work_dir=tmp_path / "work", pid_prefix=PID_PREFIX))
    event = DatasetIngested(pid="p/9", message_id="m9", beamline="sim", proposal_id="A", status="finished",
                            ingested_at=datetime.now(UTC))
    [first] = reducer.handle(event)
    derived = first["derived"]
    db[DATASET_COLLECTION].update_one({"_id": derived}, {"$set": {
        "isPublished": True, "sharedWith": ["colleague@example.org"], "datasetlifecycle.publishedOn": "2026-12-04"}})
    db[JOB_COLLECTION].delete_one({"_id": first["_id"]})  # as if the first worker died before finishing it
    [second] = reducer.handle(event)
    assert second["state"] == "succeeded" and second["derived"] == derived
    doc = db[DATASET_COLLECTION].find_one({"_id": derived})
    assert doc["isPublished"] and doc["sharedWith"] == ["colleague@example.org"]
    assert doc["datasetlifecycle"]["publishedOn"] == "2026-12-04"
    assert db[DATASET_COLLECTION].count_documents({"type": "derived"}) == 1

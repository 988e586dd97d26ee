"""Fixity (issue 21) on real parts: scans ingested by scicow through tansu into SecantusDB, their
"ingested" events followed by scifix workers of their own consumer group, real files on disk."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from scifix import FIXITY_COLLECTION, FIXITY_FILE_COLLECTION, ScifixSettings, TokenBucket, run_worker
from scifix._rules import Known, Plan, change, inside, plan, resolve
from scizoo.core import (
    DATASET_COLLECTION,
    ORIG_DATABLOCK_COLLECTION,
    DataFile,
    ScanBlock,
    ScanMetadata,
    dataset_pid,
)
from tests.helpers import PID_PREFIX, ROOT, wait_for
from tests.system.test_pipeline import _produce

pytestmark = pytest.mark.system
T0 = datetime(2026, 12, 5, 12, tzinfo=UTC)


# ---- the rules, on plain data ----------------------------------------------------------------

def test_a_token_bucket_holds_its_rate_on_average() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    bucket = TokenBucket(1000, 100, clock=lambda: now[0], sleep=sleep)
    for _ in range(50):
        bucket.take(100)  # 5,000 bytes at 1,000 bytes/s: the first 100 free (the burst), then 4.9 s
    assert now[0] == pytest.approx(4.9)
    unbounded = TokenBucket(0, 100, clock=lambda: now[0], sleep=sleep)
    unbounded.take(10**9)
    assert now[0] == pytest.approx(4.9)


def test_paths_roots_and_changes() -> None:
    assert resolve("raw/s1.h5", "/data/sim/p1") == "/data/sim/p1/raw/s1.h5"  # SciCat: relative to sourceFolder
    assert resolve("/data/sim/../../etc/passwd", "/data/sim") == "/etc/passwd"
    assert inside("/data/sim/x.h5", ["/data"]) and inside("/data", ["/data"])
    assert not inside("/data2/x.h5", ["/data"]) and not inside("/etc/passwd", ["/data"]) and not inside("/x", [])
    assert change(10, T0, 10, T0 + timedelta(milliseconds=400), 1.0) is None
    assert "size 10 -> 11" in (change(10, T0, 11, T0, 1.0) or "")
    assert "modified" in (change(10, T0, 10, T0 + timedelta(seconds=5), 1.0) or "")
    known = Known(10, T0, "blake2b", "abc")
    assert plan("abc", known, 10, T0, "blake2b", recheck=False) is Plan.DONE
    assert plan("", known, 10, T0, "blake2b", recheck=False) is Plan.RESTORE  # a re-ingest wiped it
    assert plan("", known, 11, T0, "blake2b", recheck=False) is Plan.READ  # another file now
    assert plan("", known, 10, T0, "sha256", recheck=False) is Plan.READ
    assert plan("abc", known, 10, T0, "blake2b", recheck=True) is Plan.READ
    assert plan("", None, 10, T0, "blake2b", recheck=False) is Plan.READ
    found = Known(10, T0, "blake2b", "abc", mismatch="blake2b is def")
    assert plan("abc", found, 10, T0, "blake2b", recheck=False) is Plan.MISMATCH  # not cleared by a later event
    assert plan("", found, 10, T0, "blake2b", recheck=False) is Plan.MISMATCH
    assert plan("abc", found, 10, T0, "blake2b", recheck=True) is Plan.READ


# ---- on real parts ---------------------------------------------------------------------------

def _file(folder: Path, name: str, size: int, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(bytes((i * 7 + seed) % 251 for i in range(size)))
    return path


def _entry(path: Path) -> DataFile:
    st = path.stat()
    return DataFile(path=str(path), size=st.st_size, time=datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC))


def _scan(n: int, files: list[Path], *, produced_at: datetime = T0, extra: list[DataFile] | None = None) -> ScanMetadata:
    return ScanMetadata(
        message_id=f"fix-{n}", beamline="sim", source="manual", proposal_id="20240001",
        data_path=str(files[0].parent) if files else "/data",
        scan=ScanBlock(id=str(n), start=T0, end=T0, status="finished", files=[_entry(f) for f in files] + (extra or [])),
        produced_at=produced_at)


def _b2(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes()).hexdigest()


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture()
def settings(kafka, mongo, db, prefix, tmp_path) -> ScifixSettings:
    return ScifixSettings(kafka_bootstrap=kafka.bootstrap_servers, topic_prefix=prefix, group_id=f"fix-{prefix}",
                          mongo_uri=mongo.uri, database=db.name, data_roots=[tmp_path / "data"], read_rate=0,
                          reverify_interval_s=0, max_poll_interval_ms=5000, session_timeout_ms=6000,
                          heartbeat_interval_ms=1000, keepalive_s=0.5)


@pytest.fixture()
def worker(settings) -> Iterator[callable]:
    """Start a scifix worker in a thread (call with changed settings); stopped at the end."""
    started: list[tuple[threading.Thread, threading.Event]] = []

    def start(**changes) -> threading.Event:
        stop = threading.Event()
        thread = threading.Thread(target=run_worker, args=(settings.model_copy(update=changes), stop), daemon=True)
        thread.start()
        started.append((thread, stop))
        return stop

    yield start
    for thread, stop in started:
        stop.set()
    for thread, _ in started:
        thread.join(30)
        assert not thread.is_alive()


def _block(db, pid: str) -> dict:
    return db[ORIG_DATABLOCK_COLLECTION].find_one({"datasetId": pid})


def test_the_worker_fills_every_datablock_and_flags_what_changed_went_or_lies_outside(
    kafka, scicow, db, prefix, tmp_path, worker
) -> None:
    scicow()
    data = tmp_path / "data" / "20240001" / "raw"
    kept = [_file(data, f"scan_{n}.nxs", 100_000 + n, n) for n in range(3)]
    changed = _file(data, "scan_changed.nxs", 5000)
    gone = _file(data, "scan_gone.nxs", 5000)
    elsewhere = _file(tmp_path / "elsewhere", "secret.bin", 64)
    link = data / "link.bin"
    link.symlink_to(elsewhere)  # inside the root by name, outside once resolved
    messages = [_scan(0, kept[:2]), _scan(1, [kept[2], changed]), _scan(2, [gone, link]),
                _scan(3, [], extra=[_entry(elsewhere)])]
    messages[3] = messages[3].model_copy(update={"data_path": str(elsewhere.parent)})
    _produce(kafka.bootstrap_servers, prefix, messages)
    pids = [dataset_pid(m.message_id, PID_PREFIX) for m in messages]
    wait_for(lambda: db[ORIG_DATABLOCK_COLLECTION].count_documents({}) == 4, what="4 datasets with their datablocks")
    # After capture: one file grows, one is deleted.
    with changed.open("ab") as f:
        f.write(b"more")
    gone.unlink()
    computed = _metric("scizoo_fixity_files_total", outcome="computed")
    flagged = {k: _metric("scizoo_fixity_problems_total", kind=k) for k in ("changed", "gone", "outside")}

    worker()
    wait_for(lambda: db[FIXITY_COLLECTION].count_documents({}) == 4, timeout=90, what="a fixity pass over each dataset")
    for pid, files in ((pids[0], kept[:2]), (pids[1], kept[2:])):
        block = _block(db, pid)
        assert block["chkAlg"] == "blake2b"
        by_path = {e["path"]: e["chk"] for e in block["dataFileList"]}
        for f in files:
            assert by_path[str(f)] == _b2(f)  # what b2sum prints
    assert db[FIXITY_COLLECTION].find_one({"_id": pids[0]})["state"] == "ok"
    summary = db[FIXITY_COLLECTION].find_one({"_id": pids[1]})
    assert summary["state"] == "flagged"
    [problem] = summary["problems"]
    assert problem["path"] == str(changed) and problem["kind"] == "changed" and "size 5000 -> 5004" in problem["reason"]
    assert next(e for e in _block(db, pids[1])["dataFileList"] if e["path"] == str(changed))["chk"] == ""
    kinds = {p["path"]: p["kind"] for p in db[FIXITY_COLLECTION].find_one({"_id": pids[2]})["problems"]}
    assert kinds == {str(gone): "gone", str(link): "outside"}
    [outside] = db[FIXITY_COLLECTION].find_one({"_id": pids[3]})["problems"]
    assert outside["kind"] == "outside" and "outside the data roots" in outside["reason"]
    assert _metric("scizoo_fixity_files_total", outcome="computed") - computed == 3
    for kind, before in flagged.items():
        assert _metric("scizoo_fixity_problems_total", kind=kind) - before == {"changed": 1, "gone": 1, "outside": 2}[kind]

    # A re-capture of scan 0 (its own message again, newer): scicow writes the capture's file list
    # and keeps the checksums of the same files (test_checksums_kept.py); the worker reads nothing.
    done = _metric("scizoo_fixity_files_total", outcome="done")
    computed = _metric("scizoo_fixity_files_total", outcome="computed")
    _produce(kafka.bootstrap_servers, prefix, [_scan(0, kept[:2], produced_at=T0 + timedelta(minutes=5))])
    wait_for(lambda: _block(db, pids[0])["updatedAt"] == T0 + timedelta(minutes=5), what="the re-ingest")
    assert {e["chk"] for e in _block(db, pids[0])["dataFileList"]} == {_b2(kept[0]), _b2(kept[1])}
    wait_for(lambda: _metric("scizoo_fixity_files_total", outcome="done") - done == 2, timeout=60,
             what="the worker's pass after the re-ingest")
    assert _block(db, pids[0])["updatedAt"] == T0 + timedelta(minutes=5)  # scicow's ordering guard untouched
    assert _metric("scizoo_fixity_files_total", outcome="computed") == computed


def _worker_process(settings: ScifixSettings, log: Path) -> subprocess.Popen:
    env = {**os.environ, "SCIFIX_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "SCIFIX_TOPIC_PREFIX": settings.topic_prefix,
           "SCIFIX_GROUP_ID": settings.group_id, "SCIFIX_MONGO_URI": settings.mongo_uri.get_secret_value(),
           "SCIFIX_DATABASE": settings.database, "SCIFIX_DATA_ROOTS": f'["{settings.data_roots[0]}"]',
           "SCIFIX_READ_RATE": "1000000", "SCIFIX_CHUNK_BYTES": "65536", "SCIFIX_MAX_POLL_INTERVAL_MS": "5000",
           "SCIFIX_SESSION_TIMEOUT_MS": "6000", "SCIFIX_HEARTBEAT_INTERVAL_MS": "1000", "SCIFIX_KEEPALIVE_S": "0.5"}
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-c", "from scifix._cli import app; app()", "run"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def test_a_killed_worker_resumes_without_reading_the_files_it_finished(
    kafka, scicow, db, prefix, tmp_path, settings, worker
) -> None:
    scicow()
    data = tmp_path / "data" / "20240001" / "raw"
    files = [_file(data, f"frame_{n}.tif", 1_000_000, n) for n in range(5)]  # 1 s each at 1 MB/s
    _produce(kafka.bootstrap_servers, prefix, [_scan(10, files)])
    pid = dataset_pid("fix-10", PID_PREFIX)
    wait_for(lambda: _block(db, pid) is not None, what="the datablock")
    log = tmp_path / "killed.log"
    proc = _worker_process(settings, log)
    try:
        wait_for(lambda: db[FIXITY_FILE_COLLECTION].count_documents({"datasetId": pid}) >= 2, timeout=90,
                 what="two files finished by the first worker")
    finally:
        proc.send_signal(signal.SIGKILL)  # mid-dataset, mid-file: no chance to tidy up
        proc.wait(10)
    finished = {d["path"]: d["checkedAt"] for d in db[FIXITY_FILE_COLLECTION].find({"datasetId": pid})}
    assert 2 <= len(finished) < 5, log.read_text()
    assert db[FIXITY_COLLECTION].find_one({"_id": pid}) is None  # the pass was not finished: offset not committed
    computed = _metric("scizoo_fixity_files_total", outcome="computed")
    unread = {k: _metric("scizoo_fixity_files_total", outcome=k) for k in ("done", "restored")}

    worker()  # the same group: the uncommitted event comes to it
    wait_for(lambda: db[FIXITY_COLLECTION].find_one({"_id": pid}) is not None, timeout=90, what="the resumed pass")
    assert {e["path"]: e["chk"] for e in _block(db, pid)["dataFileList"]} == {str(f): _b2(f) for f in files}
    assert _metric("scizoo_fixity_files_total", outcome="computed") - computed == 5 - len(finished)
    # Done, or restored when the kill fell between its ledger write and its datablock write.
    assert sum(_metric("scizoo_fixity_files_total", outcome=k) - v for k, v in unread.items()) == len(finished)
    for record in db[FIXITY_FILE_COLLECTION].find({"datasetId": pid}):
        if record["path"] in finished:
            assert record["checkedAt"] == finished[record["path"]]  # not read again
    assert db[FIXITY_COLLECTION].find_one({"_id": pid})["state"] == "ok"


def _rewrite_same_size_and_time(path: Path) -> None:
    """Silent corruption: other bytes, the same size and modification time."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_verify_finds_a_file_whose_checksum_changed(kafka, scicow, db, prefix, tmp_path, settings, worker) -> None:
    scicow()
    data = tmp_path / "data" / "20240001" / "raw"
    files = [_file(data, f"scan_{n}.h5", 20_000, n) for n in range(2)]
    _produce(kafka.bootstrap_servers, prefix, [_scan(20, files[:1]), _scan(21, files[1:])])
    pids = [dataset_pid(f"fix-{n}", PID_PREFIX) for n in (20, 21)]
    worker()
    wait_for(lambda: db[FIXITY_COLLECTION].count_documents({"state": "ok"}) == 2, timeout=90, what="both checksummed")
    env = {**os.environ, "SCIFIX_MONGO_URI": settings.mongo_uri.get_secret_value(), "SCIFIX_DATABASE": db.name,
           "SCIFIX_DATA_ROOTS": f'["{tmp_path / "data"}"]'}

    def verify(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "scizoo.cli", "fixity", "verify", *args], check=False, cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=120)

    fine = verify(pids[0])
    assert fine.returncode == 0, fine.stderr
    assert f"verified   {pids[0]} {files[0]}" in fine.stdout
    _rewrite_same_size_and_time(files[1])
    bad = verify("--proposal", "20240001")
    assert bad.returncode == 1
    assert f"mismatch   {pids[1]} {files[1]}: blake2b is {_b2(files[1])}" in bad.stdout
    assert f"verified   {pids[0]}" in bad.stdout and "2 datasets, 1 problem files" in bad.stderr
    summary = db[FIXITY_COLLECTION].find_one({"_id": pids[1]})
    assert summary["state"] == "mismatch" and summary["verifiedAt"] is not None
    # The catalogue keeps the checksum taken at capture time: the evidence, not the new bytes.
    assert _block(db, pids[1])["dataFileList"][0]["chk"] != _b2(files[1])
    # A later event for the dataset (its scan re-captured, the same file) does not clear the mismatch.
    checked = summary["checkedAt"]
    _produce(kafka.bootstrap_servers, prefix, [_scan(21, files[1:], produced_at=T0 + timedelta(minutes=5))])
    wait_for(lambda: db[FIXITY_COLLECTION].find_one({"_id": pids[1]})["checkedAt"] > checked, timeout=60,
             what="the worker's pass after the re-ingest")
    again = db[FIXITY_COLLECTION].find_one({"_id": pids[1]})
    assert again["state"] == "mismatch" and again["problems"][0]["kind"] == "mismatch"
    assert verify("no/such-pid").returncode == 1


def test_published_datasets_are_verified_on_a_schedule_and_a_mismatch_is_an_alert(
    kafka, scicow, db, prefix, tmp_path, worker
) -> None:
    scicow()
    data = tmp_path / "data" / "20240001" / "raw"
    files = [_file(data, f"pub_{n}.h5", 30_000, n) for n in range(2)]
    _produce(kafka.bootstrap_servers, prefix, [_scan(30, files[:1]), _scan(31, files[1:])])
    pids = [dataset_pid(f"fix-{n}", PID_PREFIX) for n in (30, 31)]
    wait_for(lambda: db[ORIG_DATABLOCK_COLLECTION].count_documents({}) == 2, what="the datablocks")
    db[DATASET_COLLECTION].update_one({"_id": pids[1]}, {"$set": {"isPublished": True}})
    alerts = _metric("scizoo_fixity_problems_total", kind="mismatch")
    worker(reverify_interval_s=2.0, reverify_check_s=0.5)
    wait_for(lambda: db[FIXITY_COLLECTION].count_documents({"state": "ok"}) == 2, timeout=90, what="both checksummed")
    _rewrite_same_size_and_time(files[1])
    wait_for(lambda: db[FIXITY_COLLECTION].find_one({"_id": pids[1]})["state"] == "mismatch", timeout=60,
             what="the published dataset's scheduled verification")
    assert _metric("scizoo_fixity_problems_total", kind="mismatch") - alerts >= 1
    # The unpublished one is not read again on the schedule.
    assert "verifiedAt" not in db[FIXITY_COLLECTION].find_one({"_id": pids[0]})


def test_a_long_file_does_not_cost_the_worker_its_group(kafka, scicow, db, prefix, tmp_path, worker, caplog) -> None:
    """A file read for longer than max_poll_interval_ms: the worker polls its paused consumer
    meanwhile, stays in its group, commits, and the event is not handled twice."""
    scicow()
    big = _file(tmp_path / "data" / "20240001" / "raw", "detector.h5", 3_000_000)  # 6 s at 500 kB/s
    _produce(kafka.bootstrap_servers, prefix, [_scan(40, [big])])
    pid = dataset_pid("fix-40", PID_PREFIX)
    wait_for(lambda: _block(db, pid) is not None, what="the datablock")
    unread = _metric("scizoo_fixity_files_total", outcome="done")
    with caplog.at_level("WARNING", logger="scifix"):
        worker(read_rate=500_000, chunk_bytes=65_536, max_poll_interval_ms=3000)
        wait_for(lambda: db[FIXITY_COLLECTION].find_one({"_id": pid}) is not None, timeout=90, what="the pass")
        time.sleep(8)  # an uncommitted event would come back within this (a rebalance, then a second pass)
    assert _block(db, pid)["dataFileList"][0]["chk"] == _b2(big)
    assert not [r for r in caplog.records if "not committed" in r.getMessage()]
    assert _metric("scizoo_fixity_files_total", outcome="done") == unread


def _unreachable(args: list[str], env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-m", "scizoo.cli", "fixity", *args], cwd=ROOT, env={**os.environ, **env},
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    [line] = [ln for ln in out.stderr.splitlines() if ln.strip()]
    return line


def test_the_worker_and_verify_without_a_store_or_a_broker_say_so_in_one_sentence(mongo) -> None:
    from scizoo.testing import free_port

    port = free_port()
    store = {"SCIFIX_MONGO_URI": f"mongodb://fix:s3cret@127.0.0.1:{port}", "SCIFIX_CONNECT_TIMEOUT_S": "1"}
    for args in (["run"], ["verify", "some/pid"]):
        line = _unreachable(args, store)
        assert line.startswith(f"error: scifix cannot reach MongoDB at mongodb://fix:***@127.0.0.1:{port}"), line
        assert "s3cret" not in line
    line = _unreachable(["run"], {"SCIFIX_MONGO_URI": mongo.uri, "SCIFIX_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
                                  "SCIFIX_CONNECT_TIMEOUT_S": "2"})
    assert line.startswith(f"error: scifix cannot reach Kafka at 127.0.0.1:{port}"), line


def test_odd_datablock_entries_are_flagged_and_a_failing_check_does_not_stop_the_worker(
    kafka, scicow, db, prefix, tmp_path, worker
) -> None:
    """A datablock written around scizoo (another tool, a hand edit) with odd entries next to good
    ones: the good files get their checksums, each odd one is flagged with why and never read. A
    check that fails unexpectedly (here a ledger record written around scifix) is said on the
    dataset's summary and its event committed: the events behind it are checked."""
    scicow()
    data = tmp_path / "data" / "20240001" / "raw"
    good = [_file(data, f"good_{n}.h5", 10_000 + n, n) for n in range(3)]
    _produce(kafka.bootstrap_servers, prefix, [_scan(50, good[:2]), _scan(51, good[2:])])
    pids = [dataset_pid(f"fix-{n}", PID_PREFIX) for n in (50, 51)]
    wait_for(lambda: db[ORIG_DATABLOCK_COLLECTION].count_documents({}) == 2, what="the datablocks")
    odd = ["just a string", {"path": str(good[0]) + ".x", "size": "big", "time": T0},
           {"path": str(good[1]) + ".y", "size": 10}, {"size": 10, "time": T0}, {"path": 42, "size": 1, "time": T0},
           {"path": str(good[1]) + ".z", "size": float("nan"), "time": T0}]
    db[ORIG_DATABLOCK_COLLECTION].update_one({"datasetId": pids[0]}, {"$push": {"dataFileList": {"$each": odd}}})
    # A third dataset whose check fails: a ledger record of its file without the fields scifix writes.
    block = _block(db, pids[1])
    db[FIXITY_FILE_COLLECTION].insert_one({"_id": "written-around-scifix", "datasetId": pids[1],
                                           "blockId": block["_id"], "path": str(good[2])})
    problems = _metric("scizoo_fixity_problems_total", kind="malformed")
    failures = _metric("scizoo_fixity_problems_total", kind="failed")
    stop = worker()
    wait_for(lambda: db[FIXITY_COLLECTION].count_documents({}) == 2, timeout=90, what="both datasets' passes")
    by_path = {e.get("path"): e.get("chk") for e in _block(db, pids[0])["dataFileList"] if isinstance(e, dict)}
    assert by_path[str(good[0])] == _b2(good[0]) and by_path[str(good[1])] == _b2(good[1])
    summary = db[FIXITY_COLLECTION].find_one({"_id": pids[0]})
    assert summary["state"] == "flagged" and summary["problemCount"] == len(odd)
    reasons = {p["path"]: p["reason"] for p in summary["problems"] if p["kind"] == "malformed"}
    assert len(reasons) == len(odd)
    assert "not an object" in reasons["dataFileList[2]"]  # after the two good ones
    assert "size" in reasons[str(good[0]) + ".x"] and "time" in reasons[str(good[1]) + ".y"]
    assert "path" in reasons["dataFileList[5]"] and "path" in reasons["dataFileList[6]"]
    assert "size" in reasons[str(good[1]) + ".z"]
    assert _metric("scizoo_fixity_problems_total", kind="malformed") - problems == len(odd)
    failed = db[FIXITY_COLLECTION].find_one({"_id": pids[1]})
    [problem] = failed["problems"]
    assert failed["state"] == "flagged" and problem["kind"] == "failed" and "KeyError" in problem["reason"]
    assert _metric("scizoo_fixity_problems_total", kind="failed") - failures == 1

    # The worker goes on: a later event is checked.
    more = _file(data, "good_3.h5", 5000, 3)
    _produce(kafka.bootstrap_servers, prefix, [_scan(52, [more])])
    pid = dataset_pid("fix-52", PID_PREFIX)
    wait_for(lambda: (db[FIXITY_COLLECTION].find_one({"_id": pid}) or {}).get("state") == "ok", timeout=60,
             what="the next event's pass")
    # Committed, the failed one too: a worker of the same group started afresh reads none again.
    db[FIXITY_FILE_COLLECTION].delete_one({"_id": "written-around-scifix"})
    computed = _metric("scizoo_fixity_files_total", outcome="computed")
    stop.set()
    worker()
    time.sleep(8)  # joining the group and polling from the committed offsets
    assert _metric("scizoo_fixity_files_total", outcome="computed") == computed
    assert db[FIXITY_COLLECTION].find_one({"_id": pids[1]})["state"] == "flagged"

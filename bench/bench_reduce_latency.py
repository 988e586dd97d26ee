"""From "scan finished" to "derived dataset visible", in the demo's set-up: p50 and p95.

    .venv/bin/python bench/bench_reduce_latency.py [scans] [seconds between scans]

The demo's parts, each real: tansu, SecantusDB, scicow (the demo's settings, with the demo's
user office stand-in), one scireduce worker with the shipped rules (config/reduction/
rules.yaml: `profile` on every finished `sim` scan over 7,000 eV). A scan is finished when
its NeXus file is closed and its message is sent (acks=all); a change stream on the Dataset
collection notes when its raw dataset, and then its derived one, appear. The raw dataset's
time is the peer: what ingestion alone costs, so the reduction's share can be read off.
"""

from __future__ import annotations

import math
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kafka import KafkaProducer
from pymongo import MongoClient

from scicow import ScicowSettings
from scicow import run as run_scicow
from scifish import message_key
from scireduce import ScireduceSettings, run_worker
from scizoo.core import (
    DATASET_COLLECTION,
    PROPOSAL_COLLECTION,
    DataFile,
    RecordedEntry,
    ScanBlock,
    ScanMetadata,
    beamline_topic,
    dataset_pid,
    manual_message_id,
)
from scizoo.demo import CATALOGUE_PROPOSAL, PID_PREFIX, USER_OFFICE_PROPOSALS, USER_OFFICE_TOKEN
from scizoo.testing import EmbeddedKafka, EmbeddedMongo, UserOffice
from scizoo.testing.nexus import write_scan_nexus


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def _scan(folder: Path, n: int) -> ScanMetadata:
    now = datetime.now(UTC)
    points = 11 + n % 5
    path = write_scan_nexus(folder / f"scan_{n:05d}.nxs", x=[i * 0.1 for i in range(points)],
                            counts=[int(200 + 80 * math.sin(i / 2 + n)) for i in range(points)],
                            monitor=[1000 + (i * 7) % 13 for i in range(points)], title=f"ascan {n}",
                            start=now - timedelta(seconds=2), end=now)
    return ScanMetadata(
        message_id=manual_message_id("sim", uuid.uuid4()), beamline="sim", source="manual", proposal_id="20240001",
        data_path=str(folder), produced_at=now,
        scan=ScanBlock(id=str(n), start=now - timedelta(seconds=2), end=now, status="finished", points=points,
                       files=[DataFile(path=str(path), size=path.stat().st_size, time=now)]),
        entries=[RecordedEntry(name="photon_energy", device="sim/energy/1", attribute="energy",
                               value=7100.0 + n % 7, raw_value=7100.0 + n % 7, unit="eV")])


def main(scans: int, interval_s: float) -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-reduce-latency-"))
    stop = threading.Event()
    seen: dict[str, float] = {}  # "raw:<pid>" / "derived:<input pid>" -> monotonic time it was seen
    with EmbeddedKafka() as kafka, EmbeddedMongo(work / "store") as mongo, \
            UserOffice(USER_OFFICE_PROPOSALS, token=USER_OFFICE_TOKEN) as office:
        client: MongoClient[dict[str, Any]] = MongoClient(mongo.uri, tz_aware=True)
        db = client["scicat"]
        db[PROPOSAL_COLLECTION].replace_one({"_id": CATALOGUE_PROPOSAL["_id"]}, CATALOGUE_PROPOSAL, upsert=True)

        def watch() -> None:
            with db[DATASET_COLLECTION].watch([{"$match": {"operationType": {"$in": ["insert", "replace"]}}}],
                                             max_await_time_ms=100) as stream:
                ready.set()
                while not stop.is_set():
                    change = stream.try_next()
                    doc = (change or {}).get("fullDocument") or {}
                    if doc.get("type") == "raw":
                        seen.setdefault(f"raw:{doc['_id']}", time.monotonic())
                    elif doc.get("type") == "derived":
                        for pid in doc.get("inputDatasets", []):
                            seen.setdefault(f"derived:{pid}", time.monotonic())

        ready = threading.Event()
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        ready.wait(30)
        cow = ScicowSettings(kafka_bootstrap=kafka.bootstrap_servers, mongo_uri=mongo.uri, user_office_url=office.url,
                             user_office_token=USER_OFFICE_TOKEN, pid_prefix=PID_PREFIX,
                             max_poll_interval_ms=5000, session_timeout_ms=6000, heartbeat_interval_ms=1000)
        reduce = ScireduceSettings(kafka_bootstrap=kafka.bootstrap_servers, mongo_uri=mongo.uri,
                                   topic_prefix=cow.topic_prefix, rules_file=ROOT / "config/reduction/rules.yaml",
                                   work_dir=work / "reduce", pid_prefix=PID_PREFIX, max_poll_interval_ms=120_000,
                                   session_timeout_ms=6000, heartbeat_interval_ms=1000)
        threads = [threading.Thread(target=run_scicow, args=(cow, stop), daemon=True),
                   threading.Thread(target=run_worker, args=(reduce, stop), daemon=True)]
        for thread in threads:
            thread.start()
        producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
        folder = work / "raw"
        folder.mkdir()
        finished: dict[str, float] = {}
        # One warm-up scan (the first job imports h5py and matplotlib cold; the group joins).
        for n in range(scans + 1):
            message = _scan(folder, n)
            producer.send(beamline_topic(cow.topic_prefix, "sim"), key=message_key(message),
                          value=message.model_dump_json().encode()).get(timeout=30)
            if n:
                finished[dataset_pid(message.message_id, PID_PREFIX)] = time.monotonic()
            else:
                warm = dataset_pid(message.message_id, PID_PREFIX)
                deadline = time.monotonic() + 180
                while f"derived:{warm}" not in seen and time.monotonic() < deadline:
                    time.sleep(0.1)
            time.sleep(interval_s)
        deadline = time.monotonic() + 60 + 10 * scans
        while time.monotonic() < deadline and not all(f"derived:{p}" in seen for p in finished):
            time.sleep(0.2)
        stop.set()
        producer.close()
        for thread in (*threads, watcher):
            thread.join(30)
        client.close()
    raw = [seen[f"raw:{p}"] - t for p, t in finished.items() if f"raw:{p}" in seen]
    derived = [seen[f"derived:{p}"] - t for p, t in finished.items() if f"derived:{p}" in seen]
    print(f"{scans} scans, one every {interval_s:g} s (after one warm-up scan), the demo's set-up")
    for name, values in (("raw dataset visible (ingestion alone, the peer)", raw),
                         ("derived dataset visible (ingestion + reduction)", derived)):
        if values:
            print(f"scan finished -> {name}: {len(values)} of {scans}; p50 {statistics.median(values):.2f} s, "
                  f"p95 {_percentile(values, 0.95):.2f} s, max {max(values):.2f} s")
    missing = scans - len(derived)
    if missing:
        print(f"{missing} scan(s) had no derived dataset within the wait")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30, float(sys.argv[2]) if len(sys.argv) > 2 else 2.0))

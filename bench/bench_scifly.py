"""scifly benchmark: a burst of small files written as fast as the disk allows.

Prints files written, files seen, datasets produced (distinct message ids), messages
sent twice, the trigger latency after each file was closed (close -> message
produced, p50/p95), and the time from the last write to the last file captured, for

- inotify: scifly as on a local disk: inotify events, close-write, batched capture
  (one Tango read per tick, one wait for Kafka per batch);
- polling: scifly with ``observer: polling`` (as on NFS, GPFS, Lustre, whose remote
  writes raise no inotify event): the folder is listed every ``polling_s``, a file is
  complete after ``quiet_s`` unchanged (no close-write), then the same batched capture;
- naive: a poller that lists the folder every quiet time, takes a file as complete
  when its size did not change between two listings, and captures each file on its own
  (one Tango read and one acknowledged send per file).

All run against real tansu and a real Tango PathFixer, in the same run, one after another
(each into a folder of its own proposal, under the data root scifly is allowed).

Run: .venv/bin/python bench/bench_scifly.py [files] [--cases inotify,polling,naive]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import tango
from kafka import KafkaConsumer, TopicPartition

from scifish import Capturer, ScanRequest, SpoolingProducer, TangoReader, Where
from scifish.testing import SimDeviceSpec, SimulatedBeamline
from scifly import DataPathRules, FileWatcher, SciflyConfig
from scizoo.core import BeamlineConfig, DataFile, ScanBlock, ScanMetadata, beamline_topic, file_message_id
from scizoo.testing import EmbeddedKafka

QUIET_S = 0.5
POLLING_S = 1.0
CASES = ("inotify", "polling", "naive")


def write_burst(folder: Path, count: int) -> dict[str, float]:
    closed = {}
    for n in range(count):
        path = folder / f"f{n:05d}.dat"
        with path.open("wb") as fh:
            fh.write(b"x" * 256)
        closed[str(path)] = time.time()
    return closed


def read_all(bootstrap: str, topic: str, expected: int, timeout: float) -> list[ScanMetadata]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    out: list[ScanMetadata] = []
    try:
        deadline = time.monotonic() + timeout
        while not consumer.partitions_for_topic(topic) and time.monotonic() < deadline:
            time.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        idle = 0
        while time.monotonic() < deadline and idle < 5:
            got = consumer.poll(timeout_ms=500, max_records=5000)
            idle = 0 if got else idle + (1 if len(out) >= expected else 0)
            for recs in got.values():
                out.extend(ScanMetadata.model_validate_json(r.value) for r in recs)
    finally:
        consumer.close()
    return out


def report(name: str, count: int, closed: dict[str, float], messages: list[ScanMetadata], elapsed: float) -> None:
    paths = {m.scan.files[0].path for m in messages}
    ids = [m.message_id for m in messages]
    latencies = sorted(m.produced_at.timestamp() - closed[m.scan.files[0].path] for m in messages
                       if m.scan.files[0].path in closed)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan")
    last_write = max(closed.values())
    last_produced = max((m.produced_at.timestamp() for m in messages), default=float("nan"))
    print(f"{name:7s} written {count:6d}  seen {len(paths):6d}  datasets {len(set(ids)):6d}  "
          f"sent twice {len(ids) - len(set(ids)):4d}  latency p50 {p50:6.2f} s  p95 {p95:6.2f} s  "
          f"last write -> all produced {last_produced - last_write:6.2f} s  "
          f"(all captured {elapsed:5.1f} s after the burst began)", flush=True)


def naive(folder: Path, config: BeamlineConfig, reader: TangoReader, producer: SpoolingProducer, prefix: str,
          count: int, stop: threading.Event) -> None:
    sizes: dict[str, int] = {}
    done: set[str] = set()
    while not stop.is_set() and len(done) < count:
        for entry in os.scandir(folder):
            if entry.path in done:
                continue
            size = entry.stat().st_size
            if sizes.get(entry.path) == size:
                st = entry.stat()
                mtime = datetime.fromtimestamp(st.st_mtime, UTC)
                # One capture per file: one Tango read and one wait for Kafka each.
                scan = ScanBlock(id=entry.name, start=mtime, end=mtime,
                                 files=[DataFile(path=entry.path, size=size, time=mtime)])
                Capturer(config, reader, producer, prefix).capture_one(
                    ScanRequest(scan, file_message_id("naive", entry.path), where=Where("20240001", str(folder))),
                    source="scifly", now=datetime.now(UTC))
                done.add(entry.path)
            sizes[entry.path] = size
        stop.wait(QUIET_S)


def run_scifly(case: str, proposal: str, tmp: Path, kafka: EmbeddedKafka, beamline: SimulatedBeamline,
               config: BeamlineConfig, count: int) -> None:
    """One burst into a folder scifly follows, with the observer ``case`` names."""
    folder = tmp / "data" / "bench" / proposal
    folder.mkdir(parents=True)
    fixer = tango.DeviceProxy(beamline.addresses["b/pathfixer/1"])
    fixer.write_attribute("data_path", str(folder))
    fixer.write_attribute("proposal", proposal)
    reader = TangoReader(beamline.addresses, timeout_s=2.0)
    producer = SpoolingProducer(kafka.bootstrap_servers, tmp / f"spool-{case}", send_timeout_s=10.0)
    watcher = FileWatcher(
        SciflyConfig(quiet_s=QUIET_S, poll_s=0.5, observer=case, polling_s=POLLING_S,
                     programs=[{"name": "bench", "patterns": ["*.dat"]}]),
        Capturer(config, reader, producer, case), state_file=tmp / f"sent-{case}.jsonl",
        paths=DataPathRules(roots=[str(tmp / "data")]))
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    thread.start()
    if not watcher.ready.wait(30):
        raise SystemExit(f"{case}: the watcher never followed {folder}")
    start = time.monotonic()
    closed = write_burst(folder, count)
    deadline = time.monotonic() + 300
    while watcher.captured < count and time.monotonic() < deadline:
        time.sleep(0.05)
    elapsed = time.monotonic() - start
    stop.set()
    thread.join(30)
    report(case, count, closed, read_all(kafka.bootstrap_servers, beamline_topic(case, "bench"), count, 120),
           elapsed)
    watcher.close()


def run_naive(tmp: Path, kafka: EmbeddedKafka, beamline: SimulatedBeamline, config: BeamlineConfig,
              count: int) -> None:
    (tmp / "naive").mkdir()
    reader = TangoReader(beamline.addresses, timeout_s=2.0)
    producer = SpoolingProducer(kafka.bootstrap_servers, tmp / "spool-naive", send_timeout_s=10.0)
    stop = threading.Event()
    thread = threading.Thread(target=naive, args=(tmp / "naive", config, reader, producer, "naive", count, stop),
                              daemon=True)
    thread.start()
    start = time.monotonic()
    closed = write_burst(tmp / "naive", count)
    thread.join(600)
    elapsed = time.monotonic() - start
    stop.set()
    report("naive", count, closed, read_all(kafka.bootstrap_servers, beamline_topic("naive", "bench"), count, 120),
           elapsed)
    producer.close()
    reader.close()


def main(count: int, cases: list[str]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-scifly-"))
    devices = [
        SimDeviceSpec("PathFixer", "b/pathfixer/1", {"Proposal": "20240000", "DataPath": str(tmp / "data")}),
        SimDeviceSpec("SimTemperature", "b/temp/1", {}),
    ]
    with EmbeddedKafka() as kafka, SimulatedBeamline(devices) as beamline:
        config = BeamlineConfig(beamline="bench", pathfixer="b/pathfixer/1", attributes=[
            {"name": "temperature", "device": "b/temp/1", "attribute": "temperature", "unit": "K"}])
        print(f"{count} files per case; quiet_s {QUIET_S}, polling_s {POLLING_S}", flush=True)
        for n, case in enumerate(cases):
            if case == "naive":
                run_naive(tmp, kafka, beamline, config, count)
            else:
                run_scifly(case, f"2024{n + 1:04d}", tmp, kafka, beamline, config, count)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="?", type=int, default=10_000, help="files per burst")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    args = parser.parse_args()
    chosen = [c.strip() for c in args.cases.split(",") if c.strip()]
    if unknown := set(chosen) - set(CASES):
        parser.error(f"unknown cases {sorted(unknown)}; choose from {', '.join(CASES)}")
    main(args.files, chosen)

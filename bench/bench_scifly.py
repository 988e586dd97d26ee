"""scifly benchmark: a burst of small files written as fast as the disk allows.

Prints files written, files seen, datasets produced (distinct message ids), messages
sent twice, and the trigger latency after each file was closed (close -> message
produced, p50/p95), for

- scifly: watchdog events, close-write, batched capture (one Tango read per tick,
  one wait for Kafka per batch);
- naive: a poller that lists the folder every quiet time, takes a file as complete
  when its size did not change between two listings, and captures each file on its own
  (one Tango read and one acknowledged send per file).

Both run against real tansu and a real Tango PathFixer, in the same run.

Run: .venv/bin/python bench/bench_scifly.py [files]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from scifish import Capturer, ScanRequest, SpoolingProducer, TangoReader, Where
from scifish.testing import SimDeviceSpec, SimulatedBeamline
from scifly import FileWatcher, SciflyConfig
from scizoo.core import BeamlineConfig, DataFile, ScanBlock, ScanMetadata, beamline_topic, file_message_id
from scizoo.testing import EmbeddedKafka

QUIET_S = 0.5


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
    print(f"{name:7s} written {count:6d}  seen {len(paths):6d}  datasets {len(set(ids)):6d}  "
          f"sent twice {len(ids) - len(set(ids)):4d}  latency p50 {p50:6.2f} s  p95 {p95:6.2f} s  "
          f"(all captured {elapsed:5.1f} s after the burst began)")


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


def main(count: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-scifly-"))
    devices = [
        SimDeviceSpec("PathFixer", "b/pathfixer/1", {"Proposal": "20240001", "DataPath": str(tmp / "fly")}),
        SimDeviceSpec("SimTemperature", "b/temp/1", {}),
    ]
    (tmp / "fly").mkdir()
    (tmp / "naive").mkdir()
    with EmbeddedKafka() as kafka, SimulatedBeamline(devices) as beamline:
        config = BeamlineConfig(beamline="bench", pathfixer="b/pathfixer/1", attributes=[
            {"name": "temperature", "device": "b/temp/1", "attribute": "temperature", "unit": "K"}])
        # scifly
        reader = TangoReader(beamline.addresses, timeout_s=2.0)
        producer = SpoolingProducer(kafka.bootstrap_servers, tmp / "spool", send_timeout_s=10.0)
        watcher = FileWatcher(
            SciflyConfig(quiet_s=QUIET_S, poll_s=0.5, programs=[{"name": "bench", "patterns": ["*.dat"]}]),
            Capturer(config, reader, producer, "fly"), state_file=tmp / "sent.jsonl")
        stop = threading.Event()
        thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
        thread.start()
        watcher.ready.wait(30)
        start = time.monotonic()
        closed = write_burst(tmp / "fly", count)
        deadline = time.monotonic() + 300
        while watcher.captured < count and time.monotonic() < deadline:
            time.sleep(0.05)
        elapsed = time.monotonic() - start
        stop.set()
        thread.join(30)
        report("scifly", count, closed, read_all(kafka.bootstrap_servers, beamline_topic("fly", "bench"), count, 120),
               elapsed)
        watcher.close()

        # naive
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


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)

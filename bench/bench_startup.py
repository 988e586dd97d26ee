"""Ingestion start-up and a wedged device: two figures of the hardening work.

1. A fresh start: scicow begins before any beamline topic exists; the time from the first
   scan message to its dataset in the catalogue (was 18.8 s: a join with a pattern that
   matched nothing, then kafka-python's lost re-join; now about 4 s).
2. Ten captures while one of two devices is frozen (SIGSTOP), timeout 1 s: the first costs
   the timeout, the others skip the device until a background probe finds it again
   (was 2.5 s each, 25 s in all).

    .venv/bin/python bench/bench_startup.py
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kafka import KafkaProducer
from pymongo import MongoClient

from scicow import ScicowSettings, run
from scifish import TangoReader
from scifish.testing import SimDeviceSpec, SimulatedBeamline
from scizoo.core import DATASET_COLLECTION, PROPOSAL_COLLECTION, ScanBlock, ScanMetadata, beamline_topic
from scizoo.testing import EmbeddedKafka, EmbeddedMongo


def first_scan() -> None:
    with EmbeddedKafka() as kafka, EmbeddedMongo(tempfile.mkdtemp()) as mongo:
        client: MongoClient = MongoClient(mongo.uri, tz_aware=True)
        db = client["scicat"]
        db[PROPOSAL_COLLECTION].insert_one({"_id": "20240001", "proposalId": "20240001", "ownerGroup": "20240001"})
        settings = ScicowSettings(kafka_bootstrap=kafka.bootstrap_servers, mongo_uri=mongo.uri,
                                  max_poll_interval_ms=5000, session_timeout_ms=6000, heartbeat_interval_ms=1000)
        stop = threading.Event()
        consumer = threading.Thread(target=run, args=(settings, stop), daemon=True)
        consumer.start()
        time.sleep(1.0)
        now = datetime.now(UTC)
        message = ScanMetadata(message_id="first", beamline="sim", source="manual", proposal_id="20240001",
                               data_path="/data", scan=ScanBlock(id="1", start=now, end=now), produced_at=now)
        producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
        producer.send(beamline_topic("scizoo", "sim"), value=message.model_dump_json().encode())
        producer.flush()
        sent = time.monotonic()
        while db[DATASET_COLLECTION].count_documents({}) == 0 and time.monotonic() - sent < 120:
            time.sleep(0.1)
        print(f"first scan of a fresh start in the catalogue {time.monotonic() - sent:.1f} s after it was sent")
        stop.set()
        consumer.join(20)
        producer.close()
        client.close()


def frozen_device() -> None:
    wanted = [("k/alive/1", "position"), ("k/doomed/1", "position")]
    with SimulatedBeamline([SimDeviceSpec("SimMotor", "k/alive/1", {})]) as alive, \
            SimulatedBeamline([SimDeviceSpec("SimMotor", "k/doomed/1", {})]) as doomed:
        reader = TangoReader({**alive.addresses, **doomed.addresses}, timeout_s=1.0)
        try:
            reader.read(wanted)
            doomed.freeze()
            times = []
            for _ in range(10):
                t = time.monotonic()
                reader.read(wanted)
                times.append(time.monotonic() - t)
            print(f"10 captures with a frozen device: {sum(times):.2f} s ({' '.join(f'{x:.2f}' for x in times)})")
        finally:
            doomed.thaw()
            reader.close()


if __name__ == "__main__":
    first_scan()
    frozen_device()

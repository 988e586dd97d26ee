"""Fixtures: real services started once per session, a fresh topic prefix and database per test."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scizoo import (
    PROPOSAL_COLLECTION,
    DataFile,
    EmbeddedKafka,
    EmbeddedMongo,
    ScanBlock,
    load_beamline_config,
)

ROOT = Path(__file__).resolve().parent.parent
PID_PREFIX = "20.500.99999"
PROPOSAL = {
    "_id": "20240001",
    "proposalId": "20240001",
    "title": "Test proposal",
    "email": "pi@example.org",
    "pi_email": "pi@example.org",
    "pi_firstname": "Grace",
    "pi_lastname": "Hopper",
    "ownerGroup": "20240001",
    "accessGroups": ["collaborators"],
}


@pytest.fixture(scope="session")
def kafka() -> Iterator[EmbeddedKafka]:
    with EmbeddedKafka() as broker:
        yield broker


@pytest.fixture(scope="session")
def mongo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedMongo]:
    with EmbeddedMongo(tmp_path_factory.mktemp("store")) as store:
        yield store


@pytest.fixture(scope="session")
def mongo_client(mongo: EmbeddedMongo):  # noqa: ANN201
    from pymongo import MongoClient

    client: MongoClient = MongoClient(mongo.uri, tz_aware=True)
    yield client
    client.close()


@pytest.fixture()
def prefix() -> str:
    """A topic prefix no other test uses."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def db(mongo_client, prefix: str):  # noqa: ANN001, ANN201
    database = mongo_client[f"db_{prefix}"]
    database[PROPOSAL_COLLECTION].insert_one(dict(PROPOSAL))
    yield database
    mongo_client.drop_database(database.name)


@pytest.fixture(scope="session")
def beamline_config():  # noqa: ANN201
    return load_beamline_config(ROOT / "config" / "beamlines" / "sim.yaml")


@pytest.fixture(scope="session")
def sim_beamline(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from scifish._sim import SimulatedBeamline, demo_devices

    path = tmp_path_factory.mktemp("raw")
    with SimulatedBeamline(demo_devices("20240001", str(path) + "/")) as beamline:
        yield beamline


@pytest.fixture()
def scicow_settings(kafka: EmbeddedKafka, mongo: EmbeddedMongo, prefix: str, db, beamline_config):  # noqa: ANN001, ANN201
    from scicow import ScicowSettings

    return ScicowSettings(
        kafka_bootstrap=kafka.bootstrap_servers,
        topic_prefix=prefix,
        group_id=f"scicow-{prefix}",
        mongo_uri=mongo.uri,
        database=db.name,
        pid_prefix=PID_PREFIX,
        staff_groups={beamline_config.beamline: beamline_config.staff_group},
        max_poll_interval_ms=3000,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        quarantine_retry_s=1.0,
        proposal_miss_ttl_s=0.0,
    )


@pytest.fixture()
def scicow(scicow_settings) -> Iterator[Callable[[], None]]:  # noqa: ANN001
    """Start scicow in a thread; call the fixture's value to start it."""
    from scicow import run

    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start() -> None:
        thread = threading.Thread(target=run, args=(scicow_settings, stop), daemon=True)
        thread.start()
        threads.append(thread)

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=20)


def make_scan(n: int, *, status: str = "finished", folder: str = "/data/sim/20240001/raw") -> ScanBlock:
    end = datetime(2026, 11, 20, 12, 0, tzinfo=UTC) + timedelta(minutes=n)
    return ScanBlock(
        id=str(n),
        title=f"ascan mot01 0 10 10 0.1 #{n}",
        start=end - timedelta(seconds=30),
        end=None if status == "running" else end,
        status=status,
        points=11,
        files=[DataFile(path=f"{folder}/scan_{n:04d}.h5", size=1000 + n, time=end)],
    )


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> list[bytes]:
    """Every message on a topic, read without a consumer group."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    values: list[bytes] = []
    try:
        deadline = time.monotonic() + timeout
        parts: set[int] | None = None
        while time.monotonic() < deadline:
            parts = consumer.partitions_for_topic(topic)
            if parts:
                break
            time.sleep(0.2)
        assert parts, f"topic {topic} never appeared"
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        while time.monotonic() < deadline and len(values) < expected:
            for recs in consumer.poll(timeout_ms=300).values():
                values.extend(r.value for r in recs)
        # One more poll: more than expected is a failure the caller should see.
        for recs in consumer.poll(timeout_ms=500).values():
            values.extend(r.value for r in recs)
    finally:
        consumer.close()
    return values

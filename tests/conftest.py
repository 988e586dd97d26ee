"""Fixtures: real services started once per session, a fresh topic prefix and database per test."""

from __future__ import annotations

import faulthandler
import sys
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest

from scizoo.core import PROPOSAL_COLLECTION, load_beamline_config
from scizoo.testing import EmbeddedKafka, EmbeddedMongo
from tests.helpers import PID_PREFIX, PROPOSAL, ROOT

try:
    from _pytest.faulthandler import fault_handler_stderr_fd_key as _stderr_key
except ImportError:  # a later pytest: the stacks then go to the captured stderr
    _stderr_key = pytest.StashKey[int]()

#: A test still running after this long is stuck where pytest-timeout (300 s, by a signal) could
#: not stop it, e.g. in a fixture's teardown after its timeout fired: every thread's stack is
#: written and the run ends, instead of standing still until CI's own limit (it once stood 75
#: minutes on a deadlocked store, printing nothing).
WATCHDOG_S = 900


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    # pytest's own copy of the terminal's stderr (fd 2 is captured while a test runs).
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True, file=item.config.stash.get(_stderr_key, sys.__stderr__))
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="session")
def kafka() -> Iterator[EmbeddedKafka]:
    with EmbeddedKafka() as broker:
        yield broker


@pytest.fixture(scope="session")
def mongo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedMongo]:
    with EmbeddedMongo(tmp_path_factory.mktemp("store")) as store:
        yield store


@pytest.fixture(scope="session")
def mongo_client(mongo: EmbeddedMongo):
    from pymongo import MongoClient

    client: MongoClient = MongoClient(mongo.uri, tz_aware=True)
    yield client
    client.close()


@pytest.fixture()
def prefix() -> str:
    """A topic prefix no other test uses."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def db(mongo_client, prefix: str):
    database = mongo_client[f"db_{prefix}"]
    database[PROPOSAL_COLLECTION].insert_one(dict(PROPOSAL))
    yield database
    mongo_client.drop_database(database.name)


@pytest.fixture(scope="session")
def beamline_config():
    return load_beamline_config(ROOT / "config" / "beamlines" / "sim.yaml")


@pytest.fixture(scope="session")
def sim_beamline(tmp_path_factory: pytest.TempPathFactory):
    from scifish.testing import SimulatedBeamline, demo_devices

    path = tmp_path_factory.mktemp("raw")
    with SimulatedBeamline(demo_devices("20240001", str(path) + "/")) as beamline:
        yield beamline


@pytest.fixture()
def scicow_settings(kafka: EmbeddedKafka, mongo: EmbeddedMongo, prefix: str, db, beamline_config):
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
def scicow(scicow_settings) -> Iterator[Callable[[], None]]:
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

"""The live stream stays honest: odd documents, a store that goes away, expiry, anonymous caps."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from prometheus_client import REGISTRY
from pymongo import MongoClient

from scanlog_api import ScanlogServer, ScanlogSettings, TokenUser
from scizoo.core import DATASET_COLLECTION
from scizoo.testing import EmbeddedMongo
from tests.helpers import wait_for
from tests.system.test_scan_api import _dataset

pytestmark = pytest.mark.system
A = {"Authorization": "Bearer ta"}


class Listener:
    """Reads a stream's events in a thread: (event, data) pairs as they come."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.events: list[tuple[str, dict]] = []
        self.ended = threading.Event()
        self.hello = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url, headers), daemon=True)
        self._thread.start()
        assert self.hello.wait(20), "the stream never said hello"

    def _run(self, url: str, headers: dict[str, str]) -> None:
        event = ""
        try:
            with httpx.stream("GET", f"{url}/api/stream", headers=headers, timeout=60) as response:
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                        self.hello.set() if event == "hello" else None
                    elif line.startswith("data:") and event != "hello":
                        self.events.append((event, json.loads(line[5:])))
        except httpx.HTTPError:
            pass
        finally:
            self.ended.set()

    def scans(self) -> list[str]:
        return [d["scan_id"] for e, d in self.events if e == "scan"]


@contextmanager
def _server(mongo_uri: str, database: str, **changes) -> Iterator[ScanlogServer]:
    settings = ScanlogSettings(mongo_uri=mongo_uri, database=database,
                               tokens={"ta": TokenUser(user="alice", groups=["A"])}, **changes)
    with ScanlogServer(settings, grace_s=1) as server:
        yield server


def test_odd_documents_do_not_stop_the_stream(mongo, db) -> None:
    with _server(mongo.uri, db.name) as server:
        listener = Listener(server.url, A)
        datasets = db[DATASET_COLLECTION]
        datasets.insert_one({"_id": "odd-1", "ownerGroup": "A", "proposalIds": "A"})  # no pid, a string list
        datasets.insert_one({**_dataset(2, "A"), "proposalIds": "A", "instrumentIds": None})
        datasets.insert_one(_dataset(3, "A"))
        wait_for(lambda: "3" in listener.scans(), timeout=20, what="the scan after the odd ones")
        assert listener.scans() == ["2", "3"]


def test_the_stream_resumes_after_the_store_comes_back(tmp_path) -> None:
    store = EmbeddedMongo(tmp_path / "store")
    store.start()
    client: MongoClient = MongoClient(store.uri, tz_aware=True)
    datasets = client["live"][DATASET_COLLECTION]
    try:
        with _server(store.uri, "live") as server:
            listener = Listener(server.url, A)
            datasets.insert_one(_dataset(1, "A"))
            wait_for(lambda: listener.scans() == ["1"], timeout=20, what="the first scan")
            store.stop()
            time.sleep(2)  # the change stream fails and retries meanwhile
            store.start()  # same port, same files
            datasets.insert_one(_dataset(2, "A"))  # written before the stream is back
            datasets.insert_one(_dataset(3, "A"))
            wait_for(lambda: "3" in listener.scans(), timeout=30, what="scan 3")
            # Resumed from its token: the change made before the stream was back arrives too.
            assert listener.scans() == ["1", "2", "3"] and not listener.ended.is_set()
    finally:
        client.close()
        store.stop()


def test_a_stream_ends_when_its_token_expires_and_anonymous_streams_are_capped(mongo, db) -> None:
    from datetime import UTC, datetime, timedelta

    soon = TokenUser(user="alice", groups=["A"], expires_at=datetime.now(UTC) + timedelta(seconds=2))
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, max_anonymous_streams=1,
                               tokens={"soon": soon})
    with ScanlogServer(settings, grace_s=1) as server:
        expiring = Listener(server.url, {"Authorization": "Bearer soon"})
        assert expiring.ended.wait(15), "the stream outlived its token"
        assert expiring.events[-1][0] == "expired"
        first = Listener(server.url, {})
        answer = httpx.get(f"{server.url}/api/stream", timeout=10)
        assert answer.status_code == 429 and "anonymous" in answer.json()["detail"]
        # refused before its conditions' work (their units read in the selection): a condition
        # that work would refuse (eV against K) is not even looked at
        from tests.system.test_scan_api import _dataset

        db["Dataset"].insert_one({**_dataset(1, "P"), "isPublished": True})
        costly = httpx.get(f"{server.url}/api/stream", params={"where": "photon_energy:gt:1:K"}, timeout=10)
        assert costly.status_code == 429, costly.text
        assert not first.ended.is_set()


@pytest.mark.parametrize("who", ["anonymous", "one user"])
def test_the_stream_caps_hold_under_a_burst_of_connects(mongo, db, who: str) -> None:
    """Anonymous streams are capped for everyone together, a signed-in user's for that user."""
    cap, burst = 3, 24
    headers = {} if who == "anonymous" else {"Authorization": "Bearer ta"}
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, max_anonymous_streams=cap,
                               max_streams_per_user=cap, tokens={"ta": TokenUser(user="alice", groups=["A"]),
                                                                 "tb": TokenUser(user="bob", groups=["B"])})
    with ScanlogServer(settings, grace_s=1) as server:
        go, done = threading.Barrier(burst), threading.Event()
        statuses: list[int] = []

        def connect() -> None:
            go.wait(10)  # all at once
            with httpx.stream("GET", f"{server.url}/api/stream", headers=headers, timeout=30) as response:
                statuses.append(response.status_code)
                if response.status_code == 200:
                    done.wait(30)  # hold the stream open until every connect has its answer

        threads = [threading.Thread(target=connect, daemon=True) for _ in range(burst)]
        for thread in threads:
            thread.start()
        try:
            wait_for(lambda: len(statuses) == burst, timeout=30, what="an answer to every connect")
        finally:
            done.set()
        for thread in threads:
            thread.join(30)
        assert statuses.count(200) == cap and statuses.count(429) == burst - cap, sorted(statuses)
        # The streams that ended left the feed: as many may open again.
        wait_for(lambda: REGISTRY.get_sample_value("scizoo_live_streams") == 0, timeout=20, what="streams closed")
        again = [Listener(server.url, headers) for _ in range(cap)]
        assert not any(listener.ended.is_set() for listener in again)
        assert httpx.get(f"{server.url}/api/stream", headers=headers, timeout=10).status_code == 429
        if who == "one user":  # another user's streams are not alice's
            with httpx.stream("GET", f"{server.url}/api/stream", headers={"Authorization": "Bearer tb"},
                              timeout=10) as other:
                assert other.status_code == 200

"""Helpers the tests import: constants, scan blocks, waiting, reading a topic (fixtures stay in conftest)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scizoo.core import DataFile, ScanBlock

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


#: The browser tests drive Debian's chromium (``make test`` installs it), never a downloaded one.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def launch_chromium(playwright: Any) -> Any:
    """Debian's chromium, headless, through a Playwright instance (``sync_playwright()``)."""
    assert CHROMIUM.exists(), "make test installs Debian's chromium"
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


@contextmanager
def served_with_access_log(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn as ``scanlog serve`` runs it (its access log on), in a thread;
    its URL. Stopped on the way out."""
    import threading

    import uvicorn

    from scizoo.testing import free_port

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="info",
                                           access_log=True))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(15)

"""The embedded stand-ins never outlive the process that started them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import wait_for

pytestmark = pytest.mark.system

STARTER = """
import sys
from scizoo.testing import EmbeddedKafka, EmbeddedMongo
kafka = EmbeddedKafka(); kafka.start()
mongo = EmbeddedMongo(sys.argv[1]); mongo.start()
print(kafka.pid, mongo.pid, flush=True)
sys.stdin.read()
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose (it waits only for its reaper).
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def test_broker_and_store_stop_when_their_parent_is_sigkilled(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(tmp_path / "store")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )
    try:
        kafka_pid, mongo_pid = (int(p) for p in parent.stdout.readline().split())
        assert _alive(kafka_pid) and _alive(mongo_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        wait_for(lambda: not _alive(kafka_pid) and not _alive(mongo_pid), timeout=30,
                 what="the broker and the store to stop")
    finally:
        parent.kill()
        parent.wait()
        parent.stdin.close()
        parent.stdout.close()


def test_a_store_folder_in_use_is_said_as_such(tmp_path: Path) -> None:
    """A second `make demo` on the folder of one still running (or stopping) said only 'the
    process exited with code 1'; it names the cause and the log now."""
    from scizoo.core import ServiceStartError
    from scizoo.testing import EmbeddedMongo

    with EmbeddedMongo(tmp_path / "store", log_path=tmp_path / "first.log"):
        second = EmbeddedMongo(tmp_path / "store", log_path=tmp_path / "second.log")
        with pytest.raises(ServiceStartError, match="in use by another process") as refused:
            second.start()
        assert str(tmp_path / "second.log") in str(refused.value)

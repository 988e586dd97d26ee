"""The spool never jams: what Kafka refuses for good, a torn line and a full disk, against a real broker."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from scifish import Spool, SpoolError, SpoolingProducer
from scizoo.testing import EmbeddedKafka, free_port
from tests.helpers import read_topic, wait_for

pytestmark = pytest.mark.system

# Records above this are refused by the client before they are sent: a permanent refusal
# the real broker path goes through (tansu itself takes records of many megabytes).
SMALL = {"max_request_size": 1000}
# One key, one partition: the order on it is the order of capture.
KEY = b"sim/1"


def _dead_letters(folder: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in (folder / "deadletter.jsonl").read_text().splitlines()]


def test_what_kafka_refuses_and_torn_lines_are_set_aside_and_the_rest_flows_in_order(
    kafka: EmbeddedKafka, prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="scifish")
    topic = f"{prefix}.sim"
    folder = tmp_path / "spool"
    # A spool left by an earlier run while Kafka was down, ending in a crash mid-append.
    with Spool(folder) as spool:
        spool.append(topic, KEY, b"good-0")
        spool.append(topic, KEY, b"x" * 5000)
        spool.append("bad topic!", KEY, b"never")
    with (folder / "spool.jsonl").open("ab") as fh:
        fh.write(b"garbage, not a spool line\n")
    with Spool(folder) as spool:
        spool.append(topic, KEY, b"good-1")
        spool.append(topic, KEY, b"good-2")
    with (folder / "spool.jsonl").open("ab") as fh:
        fh.write(b'{"topic": "' + topic.encode() + b'", "key": "')

    producer = SpoolingProducer(kafka.bootstrap_servers, folder, retry_interval_s=0.2, producer_config=SMALL)
    try:
        wait_for(lambda: producer.pending() == 0, timeout=30, what="the spool to drain past what Kafka refuses")
        assert read_topic(kafka.bootstrap_servers, topic, expected=3) == [b"good-0", b"good-1", b"good-2"]
    finally:
        producer.close()

    partial, big, bad_topic, garbage = _dead_letters(folder)
    assert "partial" in partial["reason"] and base64.b64decode(partial["line"]).endswith(b'"key": "')
    assert big["topic"] == topic and base64.b64decode(big["value"]) == b"x" * 5000
    assert big["reason"].startswith("MessageSizeTooLargeError") and base64.b64decode(big["key"]) == KEY
    assert bad_topic["topic"] == "bad topic!" and "illegal" in bad_topic["reason"]
    assert base64.b64decode(garbage["line"]) == b"garbage, not a spool line"
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(topic in m and "deadletter.jsonl" in m for m in errors), errors
    assert any("bad topic!" in m for m in errors), errors


def test_a_refused_record_is_an_outcome_the_caller_sees_and_the_batch_goes_on(
    kafka: EmbeddedKafka, prefix: str, tmp_path: Path
) -> None:
    topic = f"{prefix}.sim"
    producer = SpoolingProducer(kafka.bootstrap_servers, tmp_path / "spool", producer_config=SMALL)
    try:
        outcomes = producer.send_many([
            (topic, KEY, b"first"), (topic, KEY, b"y" * 5000), ("bad topic!", KEY, b"z"), (topic, KEY, b"last"),
        ])
        assert outcomes == ["sent", "refused", "refused", "sent"]
        assert producer.pending() == 0
        assert read_topic(kafka.bootstrap_servers, topic, expected=2) == [b"first", b"last"]
    finally:
        producer.close()
    assert [d.get("topic") for d in _dead_letters(tmp_path / "spool")] == [topic, "bad topic!"]


# Runs in a child so that its file-size limit (a full disk, as far as the spool can tell)
# touches nothing else. SIGXFSZ is ignored, so a write past the limit fails with EFBIG.
_FULL_DISK = """
import json, resource, signal, sys
from scifish import SpoolingProducer
from scifish import SpoolError

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
folder, bootstrap = sys.argv[1], sys.argv[2]
producer = SpoolingProducer(bootstrap, folder, send_timeout_s=0.5, retry_interval_s=3600)
first = producer.send("t", b"k", b"kept")
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    producer.send("t", b"k", b"x" * 10000)
    error = None
except SpoolError as err:
    error = str(err)
producer.close()
print(json.dumps({"first": first, "error": error}))
"""


def test_a_full_disk_is_a_clear_error_at_capture_and_the_spool_stays_whole(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    down = f"127.0.0.1:{free_port()}"  # nothing listens: every message goes to the spool
    done = subprocess.run(
        [sys.executable, "-B", "-c", _FULL_DISK, str(folder), down],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["first"] == "spooled"
    error = result["error"] or ""
    assert error.startswith(f"spool folder {folder} cannot be written"), error
    assert "File too large" in error and "1 message(s) Kafka did not take are not kept" in error
    # The half-written line was cut off: the spool holds exactly what was acknowledged.
    assert (folder / "spool.jsonl").read_bytes().endswith(b"\n")
    with Spool(folder) as spool:
        assert [r.value for r in spool.pending()] == [b"kept"]
        assert spool.lines() == spool.pending()


def test_while_kafka_is_down_a_capture_appends_to_the_spool_without_waiting_for_the_delivery(tmp_path: Path) -> None:
    import time

    down = f"127.0.0.1:{free_port()}"  # nothing listens: every delivery attempt waits its timeout
    # The delivery thread is in a 3 s attempt nearly all the time (it retries every 0.1 s).
    producer = SpoolingProducer(down, tmp_path / "spool", send_timeout_s=3.0, retry_interval_s=0.1)
    try:
        assert producer.send("scans.sim", KEY, b"0") == "spooled"  # finds Kafka away: one timeout
        waits = []
        for n in range(1, 6):
            start = time.monotonic()
            assert producer.send("scans.sim", KEY, str(n).encode()) == "spooled"
            waits.append(time.monotonic() - start)
        # Before, each waited for the delivery attempt in progress (up to 3 s); now none
        # does. The bound is half the timeout, far above an append's milliseconds.
        assert max(waits) < 1.5, waits
        assert producer.pending() == 6
    finally:
        producer.close()
    with Spool(tmp_path / "spool") as spool:
        assert [r.value for r in spool.pending()] == [str(n).encode() for n in range(6)]


def test_a_send_after_close_is_an_error_not_a_write_to_a_released_folder(tmp_path: Path) -> None:
    producer = SpoolingProducer(f"127.0.0.1:{free_port()}", tmp_path / "spool", send_timeout_s=1.0)
    producer.close()
    with Spool(tmp_path / "spool"):  # another owner has the folder now
        with pytest.raises(SpoolError, match="is closed: this producer was closed"):
            producer.send("scans.sim", KEY, b"late")
    with Spool(tmp_path / "spool") as spool:
        assert spool.pending() == []

"""The spool keeps messages on disk, in order, across a restart; nothing in it jams the rest."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from kafka import errors as kafka_errors

from scifish import Record, Spool, SpoolError, Torn, is_refusal


def _dead_letters(folder: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in (folder / "deadletter.jsonl").read_text().splitlines()]


def test_spool_keeps_order_and_survives_a_restart(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        for i in range(5):
            spool.append("t", f"k{i}".encode(), f"v{i}".encode())
        spool.mark_sent(2)
    with Spool(tmp_path) as reopened:
        assert len(reopened) == 3
        assert [v for _, _, v in reopened.pending()] == [b"v2", b"v3", b"v4"]


def test_a_crash_mid_append_loses_nothing_and_blocks_nothing(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append("t", b"k", b"whole")
    with (tmp_path / "spool.jsonl").open("ab") as fh:
        fh.write(b'{"topic": "t", "key": "')  # a crash mid-append
    with Spool(tmp_path) as reopened:
        reopened.append("t", b"k", b"after")  # must not be glued to the partial line
        assert len(reopened) == 2
    with Spool(tmp_path) as again:
        assert [v for _, _, v in again.pending()] == [b"whole", b"after"]
    [torn] = _dead_letters(tmp_path)
    assert base64.b64decode(torn["line"]) == b'{"topic": "t", "key": "'
    assert "partial" in torn["reason"] and torn["time"]


def test_a_garbage_line_is_told_apart_and_the_lines_after_it_are_read(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append("t", b"k", b"before")
    with (tmp_path / "spool.jsonl").open("ab") as fh:
        fh.write(b'{"topic": "t", "key": "!!", "value": "x"}\n\xff\xfe not json\n[1, 2]\n')
    with Spool(tmp_path) as spool:
        spool.append("t", b"k", b"after")
        lines = spool.lines()
        assert len(spool) == 5
        assert [type(line) for line in lines] == [Record, Torn, Torn, Torn, Record]
        assert [r.value for r in spool.pending()] == [b"before", b"after"]
        torn = lines[2]
        assert isinstance(torn, Torn) and torn.raw == b"\xff\xfe not json"
        spool.dead_letter_torn(torn)
    assert base64.b64decode(_dead_letters(tmp_path)[0]["line"]) == b"\xff\xfe not json"


def test_spool_files_go_once_everything_is_sent(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append("t", b"k", b"v")
        spool.mark_sent(1)
        spool.clear_if_done()
    # The lock file stays: removing it while held would let a second opener lock a new one.
    assert [p.name for p in tmp_path.iterdir()] == ["spool.lock"]


def test_a_spool_folder_in_use_by_another_process_is_refused(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from scifish import Spool; s = Spool(sys.argv[1]); print('ready', flush=True); "
         "sys.stdin.read(); s.close()", str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    ) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        try:
            assert holder.stdout.readline() == "ready\n"
            with pytest.raises(SpoolError, match=f"in use by process {holder.pid}") as caught:
                Spool(tmp_path)
            assert caught.value.folder == tmp_path
        finally:
            holder.stdin.close()
            holder.wait(30)
    Spool(tmp_path).close()  # free again once the other process let go


def test_a_second_spool_on_one_folder_in_one_process_is_refused(tmp_path: Path) -> None:
    with Spool(tmp_path):
        with pytest.raises(SpoolError, match="in use by another Spool in this process"):
            Spool(tmp_path)
    Spool(tmp_path).close()


@pytest.mark.parametrize(
    ("err", "refused"),
    [
        (kafka_errors.MessageSizeTooLargeError("too large"), True),
        (kafka_errors.TopicAuthorizationFailedError({"t"}), True),
        (kafka_errors.InvalidTopicError(), True),
        (ValueError('Topic name "bad topic!" is illegal'), True),
        (kafka_errors.KafkaTimeoutError("no metadata"), False),
        (kafka_errors.KafkaConnectionError("refused"), False),
        # Not retriable, yet about the producer and not the record: a fresh client cures it.
        (kafka_errors.UnknownProducerIdError(), False),
        (kafka_errors.ClusterAuthorizationFailedError(), False),
        (kafka_errors.KafkaError("anything"), False),
    ],
)
def test_only_what_the_record_itself_cannot_pass_is_a_refusal(err: Exception, refused: bool) -> None:
    assert is_refusal(err) is refused


_CRASH_AFTER_FIRST_UNLINK = """
import os, pathlib, sys
from scifish import Spool
spool = Spool(sys.argv[1])
for i in range(3):
    spool.append("t", b"k", b"old-%d" % i)
spool.mark_sent(3)
real_unlink = pathlib.Path.unlink
def unlink_then_die(self, missing_ok=False):  # the process dies right after the first removal
    real_unlink(self, missing_ok=missing_ok)
    os._exit(9)
pathlib.Path.unlink = unlink_then_die
spool.clear_if_done()
"""


def test_a_crash_while_clearing_never_skips_the_next_messages(tmp_path: Path) -> None:
    """Clearing a delivered spool removes two files; a crash between the two must not leave a
    count of sent lines without its lines (which would skip that many of the next messages)."""
    died = subprocess.run([sys.executable, "-c", _CRASH_AFTER_FIRST_UNLINK, str(tmp_path)], check=False)
    assert died.returncode == 9
    with Spool(tmp_path) as spool:
        spool.append("t", b"k", b"new")
        pending = [v for _, _, v in spool.pending()]
    # At worst the delivered lines are sent again (idempotent downstream); never is "new" skipped.
    assert pending[-1:] == [b"new"] and len(spool) == len(pending)

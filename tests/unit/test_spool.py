"""The spool keeps messages on disk, in order, across a restart."""

from __future__ import annotations

from pathlib import Path

from scifish import Spool


def test_spool_keeps_order_and_survives_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(5):
        spool.append("t", f"k{i}".encode(), f"v{i}".encode())
    spool.mark_sent(2)
    reopened = Spool(tmp_path)
    assert len(reopened) == 3
    assert [v for _, _, v in reopened.pending()] == [b"v2", b"v3", b"v4"]


def test_a_crash_mid_append_loses_only_the_unacknowledged_line(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append("t", b"k", b"whole")
    with (tmp_path / "spool.jsonl").open("ab") as fh:
        fh.write(b'{"topic": "t", "key": "')  # a crash mid-append
    reopened = Spool(tmp_path)
    reopened.append("t", b"k", b"after")  # must not be glued to the partial line
    assert [v for _, _, v in Spool(tmp_path).pending()] == [b"whole", b"after"]
    assert len(reopened) == 2


def test_spool_files_go_once_everything_is_sent(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append("t", b"k", b"v")
    spool.mark_sent(1)
    spool.clear_if_done()
    assert list(tmp_path.iterdir()) == []

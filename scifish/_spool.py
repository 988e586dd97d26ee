"""The spool: an append-only, fsync'd file of the messages Kafka has not taken yet.

Plus a file holding how many of its lines have been dealt with (written atomically), a
dead-letter file beside it for lines that cannot be read back, and a lock: one process
owns a spool folder. Knows nothing of Kafka; :class:`SpoolingProducer` sends what it holds.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from scizoo.core import ScizooError

logger = logging.getLogger(__name__)

DEAD_LETTER_FILE = "deadletter.jsonl"


class SpoolError(ScizooError):
    """The spool folder cannot be used: it is in use by another process, or cannot be written."""

    def __init__(self, *, folder: Path, reason: str) -> None:
        super().__init__(f"spool folder {folder} {reason}")
        self.folder = folder
        self.reason = reason


class Record(NamedTuple):
    """One message as the spool keeps it."""

    topic: str
    key: bytes
    value: bytes


@dataclass(frozen=True)
class Torn:
    """A spool line that cannot be read back: a crash mid-write, or garbage."""

    raw: bytes
    reason: str


def encode_record(record: Record) -> bytes:
    """The spool line of a record (without its newline)."""
    return json.dumps(
        {"topic": record.topic, "key": base64.b64encode(record.key).decode(),
         "value": base64.b64encode(record.value).decode()}
    ).encode()


def decode_line(raw: bytes) -> Record | Torn:
    """A spool line read back: the record, or why it cannot be."""
    try:
        item = json.loads(raw)
        topic = item["topic"]
        if not isinstance(topic, str):
            raise TypeError(f"topic is {type(topic).__name__}, not a string")
        return Record(topic, base64.b64decode(item["key"], validate=True),
                      base64.b64decode(item["value"], validate=True))
    except (ValueError, KeyError, TypeError, binascii.Error) as err:
        return Torn(raw, f"unreadable spool line ({type(err).__name__}: {err})")


def dead_letter_line(*, now: datetime, reason: str, record: Record | None = None, raw: bytes | None = None) -> bytes:
    """One line of the dead-letter file: a refused record, or the bytes of an unreadable line."""
    item: dict[str, str | None] = {"time": now.isoformat(), "reason": reason}
    if record is not None:
        item["topic"] = record.topic
        item["key"] = base64.b64encode(record.key).decode()
        item["value"] = base64.b64encode(record.value).decode()
    if raw is not None:
        item["line"] = base64.b64encode(raw).decode()
    return json.dumps(item).encode()


def _append(path: Path, data: bytes) -> None:
    """Append ``data`` and fsync; on failure, leave the file as it was if at all possible."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            # A half-written line would be glued to the next append and both lost to the
            # reader; cutting it off needs no free space, so it works on a full disk too.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
                os.fsync(fd)
            raise
    finally:
        os.close(fd)


def _replace(path: Path, data: bytes) -> None:
    # Write-then-rename: a crash leaves the old count or the new one, never an empty file
    # (which would read as 0 and send the whole spool again).
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Spool:
    """Pending messages on disk, in order. One process owns a spool folder.

    Opening takes an exclusive lock on ``spool.lock`` in the folder (held until
    :meth:`close`); a second opener, in this process or another, gets a :class:`SpoolError`.
    """

    def __init__(self, folder: str | Path) -> None:
        self._lock_fd: int | None = None
        # Set when an append failed and may have left a partial line behind.
        self._check_tail = False
        self.folder = Path(folder)
        self._data = self.folder / "spool.jsonl"
        self._sent = self.folder / "spool.sent"
        self.dead_letters = self.folder / DEAD_LETTER_FILE
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise SpoolError(folder=self.folder, reason=f"cannot be created: {err}") from err
        self._lock()
        try:
            self._repair()
            # Kept in memory so that a send with an empty spool costs no file read.
            self._pending = max(0, len(self._lines()) - self._sent_count())
        except BaseException:
            self.close()
            raise

    def _lock(self) -> None:
        path = self.folder / "spool.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise SpoolError(folder=self.folder, reason=f"cannot be locked: {err}") from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            if holder == str(os.getpid()):
                who = "by another Spool in this process"
            else:
                who = f"by process {holder}" if holder else "by another process"
            raise SpoolError(
                folder=self.folder,
                reason=f"is in use {who}; two processes must not share a spool folder (give each its own)",
            ) from None
        # The pid is for the message above; the kernel releases the lock however we end.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def close(self) -> None:
        """Release the folder for another process (the spool stays on disk)."""
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:
        # A Spool dropped without close() frees its folder, as a dropped file would.
        self.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _repair(self) -> None:
        # A crash mid-append leaves a partial last line. It was never acknowledged to the
        # caller as spooled, and the next append would be glued to it, so it is cut off;
        # its bytes go to the dead-letter file first so that nothing is lost.
        if not self._data.exists():
            return
        raw = self._data.read_bytes()
        if raw and not raw.endswith(b"\n"):
            keep = raw.rfind(b"\n") + 1
            logger.warning("spool %s ends in a partial line (%d bytes); moving it to %s",
                           self._data, len(raw) - keep, self.dead_letters)
            self._write_dead_letter(dead_letter_line(now=datetime.now(UTC), raw=raw[keep:],
                                                     reason="partial last spool line (a crash mid-write)"))
            try:
                with self._data.open("r+b") as fh:
                    fh.truncate(keep)
                    os.fsync(fh.fileno())
            except OSError as err:
                raise SpoolError(folder=self.folder, reason=f"cannot be repaired: {err}") from err

    def append(self, topic: str, key: bytes, value: bytes) -> None:
        """Keep a message on disk; raise :class:`SpoolError` if it cannot be kept."""
        if self._check_tail:
            self._repair()
            self._check_tail = False
        try:
            _append(self._data, encode_record(Record(topic, key, value)) + b"\n")
        except OSError as err:
            self._check_tail = True
            raise SpoolError(folder=self.folder, reason=f"cannot be written: {err}") from err
        self._pending += 1

    def _write_dead_letter(self, line: bytes) -> None:
        try:
            _append(self.dead_letters, line + b"\n")
        except OSError as err:
            raise SpoolError(folder=self.folder, reason=f"cannot take a dead letter: {err}") from err

    def dead_letter(self, record: Record, reason: str) -> None:
        """Set a record Kafka refuses aside in the dead-letter file, loudly."""
        logger.error("Kafka refuses a message for topic %s for good (%s); it is set aside in %s",
                     record.topic, reason, self.dead_letters)
        self._write_dead_letter(dead_letter_line(now=datetime.now(UTC), reason=reason, record=record))

    def dead_letter_torn(self, torn: Torn) -> None:
        """Set an unreadable spool line aside in the dead-letter file, with a warning."""
        logger.warning("skipping an unreadable spool line in %s (%s); it is kept in %s",
                       self._data, torn.reason, self.dead_letters)
        self._write_dead_letter(dead_letter_line(now=datetime.now(UTC), reason=torn.reason, raw=torn.raw))

    def _lines(self) -> list[bytes]:
        if not self._data.exists():
            return []
        return [ln for ln in self._data.read_bytes().split(b"\n") if ln]

    def _sent_count(self) -> int:
        try:
            return int(self._sent.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def lines(self) -> list[Record | Torn]:
        """The pending lines, in order; a line that cannot be read back is a :class:`Torn`."""
        return [decode_line(raw) for raw in self._lines()[self._sent_count() :]]

    def pending(self) -> list[Record]:
        """The pending records, in order (unreadable lines left out)."""
        return [line for line in self.lines() if isinstance(line, Record)]

    def __len__(self) -> int:
        return self._pending

    def mark_sent(self, count: int) -> None:
        """Count the first ``count`` pending lines as dealt with (delivered or set aside)."""
        try:
            _replace(self._sent, str(self._sent_count() + count).encode())
        except OSError as err:
            raise SpoolError(folder=self.folder, reason=f"cannot record delivery: {err}") from err
        self._pending -= count

    def clear_if_done(self) -> None:
        # The lock file stays (removing a held lock file lets a second opener lock a new
        # one), and so do the dead letters, which are for a person to read.
        if self._pending == 0:
            # The count goes first, and for good (the folder fsync'd), before the data: a crash
            # in between leaves lines with no count, sent again (harmless: a message's pid is
            # its id). The other way round, a count without its lines would skip that many of
            # the next messages spooled.
            self._sent.unlink(missing_ok=True)
            _sync_folder(self.folder)
            self._data.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)



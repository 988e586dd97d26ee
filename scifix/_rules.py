"""What the fixity worker decides about one file, on plain data: no file is opened here.

The I/O (:mod:`scifix._fixity`) stats and reads; these functions say where a catalogued path
points, whether it may be read, whether the file is still the one captured, and whether its
checksum is already known.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


class Outcome(StrEnum):
    """What happened to one file of a datablock."""

    #: Its checksum was known and the file unchanged: not read.
    DONE = "done"
    #: Its checksum, computed before for the same path, size and time, was written back into a
    #: datablock that had lost it, without reading the file. Rare since scicow keeps ``chk`` on a
    #: re-ingest (scicow._rules.kept_checksums); left for a block written by something else.
    RESTORED = "restored"
    #: Read and its checksum written.
    COMPUTED = "computed"
    #: Read again and its checksum is the one recorded.
    VERIFIED = "verified"
    #: Size or time differ from the catalogue's: not the file that was captured.
    CHANGED = "changed"
    GONE = "gone"
    #: Outside every configured data root (after resolving links): never opened.
    OUTSIDE = "outside"
    UNREADABLE = "unreadable"
    #: The datablock entry itself is not a file's description scifix can trust (not an object, no
    #: path, a size that is not a whole number, no time): never read.
    MALFORMED = "malformed"
    #: Read again and its checksum is not the one recorded: the alert.
    MISMATCH = "mismatch"


#: Outcomes that flag the dataset.
PROBLEMS = frozenset({Outcome.CHANGED, Outcome.GONE, Outcome.OUTSIDE, Outcome.UNREADABLE, Outcome.MISMATCH,
                      Outcome.MALFORMED})


class Plan(StrEnum):
    DONE = "done"
    RESTORE = "restore"
    READ = "read"
    #: Found different before and not verified right since: still a mismatch, not read.
    MISMATCH = "mismatch"


class MalformedEntry(ValueError):
    """A datablock entry that does not describe a file; the message says why."""


@dataclass(frozen=True)
class Entry:
    """A datablock entry as scifix reads it (SciCat's ``dataFileList`` item)."""

    path: str
    size: int
    time: datetime
    chk: str


def entry_name(entry: object, index: int) -> str:
    """How a problem names an entry: its path, or its place in the list when it has none."""
    path = entry.get("path") if isinstance(entry, dict) else None
    return path if isinstance(path, str) and path and "\0" not in path else f"dataFileList[{index}]"


def parse_entry(entry: object) -> Entry:
    """The file a datablock entry describes, or :class:`MalformedEntry` saying why it describes
    none. Checked here, once, because datablocks are written by other tools too (SciCat's API, a
    hand edit): scifix must never crash on one, nor read a file it cannot compare."""
    if not isinstance(entry, dict):
        raise MalformedEntry(f"the datablock entry is not an object but {type(entry).__name__} {entry!r:.80}")
    path, size, time = entry.get("path"), entry.get("size"), entry.get("time")
    if not isinstance(path, str) or not path or "\0" in path:
        raise MalformedEntry(f"the datablock entry has no usable path: {path!r:.80}")
    # SciCat stores sizes as JavaScript numbers (doubles): a whole float is a size, a bool is not.
    whole = isinstance(size, int) or (isinstance(size, float) and size.is_integer())
    if isinstance(size, bool) or not whole or size < 0:  # type: ignore[operator]
        raise MalformedEntry(f"the datablock entry's size is not a whole number of bytes: {size!r:.80}")
    if not isinstance(time, datetime):
        raise MalformedEntry(f"the datablock entry's time is not a date: {time!r:.80}")
    chk = entry.get("chk")
    return Entry(path, int(size), time, chk if isinstance(chk, str) else "")  # type: ignore[arg-type]


@dataclass(frozen=True)
class Known:
    """A checksum this worker computed before, for a file as the catalogue then described it."""

    size: int
    time: datetime
    alg: str
    chk: str
    #: Why the file's checksum was found different, until a verification finds it right again.
    mismatch: str = ""

    def same_file(self, size: int, time: datetime, alg: str) -> bool:
        return self.alg == alg and self.size == size and aware(self.time) == aware(time)


def resolve(path: str, source_folder: str) -> str:
    """The absolute, normalised path a datablock entry names. SciCat's schema has ``path``
    relative to the dataset's ``sourceFolder``; scizoo's capture writes absolute paths."""
    joined = path if posixpath.isabs(path) else posixpath.join(source_folder or "/", path)
    return posixpath.normpath(joined)


def inside(real: str, roots: list[str]) -> bool:
    """Whether a real path (links resolved) lies in one of the real roots: compared by path
    components, so ``/data2`` is not inside ``/data``."""
    return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def aware(value: datetime) -> datetime:
    """A stored time as an aware datetime (a store read without tz_aware gives naive UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def change(size: int, time: datetime, seen_size: int, seen_mtime: datetime, tolerance_s: float) -> str | None:
    """Why the file on disk is not the one the catalogue describes, or None when it is."""
    reasons = []
    if seen_size != size:
        reasons.append(f"size {size} -> {seen_size} bytes")
    if abs((aware(seen_mtime) - aware(time)).total_seconds()) > tolerance_s:
        reasons.append(f"modified {aware(time).isoformat()} -> {aware(seen_mtime).isoformat()}")
    return ", ".join(reasons) if reasons else None


def plan(entry_chk: str, known: Known | None, size: int, time: datetime, alg: str, *, recheck: bool) -> Plan:
    """Whether a file (unchanged on disk) is read.

    A file is done when its checksum is known for exactly this path, size and time in this
    algorithm: this is what makes a worker killed mid-dataset resume without reading the files
    it finished, and a re-ingest that wrote the capture's list (without ``chk``) cost no read.
    ``recheck`` (verification) reads every file. A mismatch stays one until a verification
    finds the file right again: a later event (a re-ingest) never clears it unseen.
    """
    if recheck or known is None or not known.same_file(size, time, alg):
        return Plan.READ
    if known.mismatch:
        return Plan.MISMATCH
    return Plan.DONE if entry_chk == known.chk else Plan.RESTORE if not entry_chk else Plan.READ

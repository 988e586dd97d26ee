"""Reading a file for its checksum: at a bounded rate, stoppable, and noticing a file that
changes while it is read."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from scizoo.core import ScizooError

from ._bucket import TokenBucket


class Interrupted(ScizooError):
    """The worker was asked to stop in the middle of a file (the file is read again next time)."""


@dataclass(frozen=True)
class Stat:
    size: int
    mtime: datetime
    regular: bool


def stat_of(result: os.stat_result) -> Stat:
    return Stat(result.st_size, datetime.fromtimestamp(result.st_mtime_ns / 1e9, UTC), stat.S_ISREG(result.st_mode))


@dataclass(frozen=True)
class Digest:
    hexdigest: str
    before: Stat
    after: Stat


def checksum(path: str, alg: str, bucket: TokenBucket, *, chunk: int, keepalive: Callable[[], None] = lambda: None,
             stop: threading.Event | None = None) -> Digest:
    """The hex digest of a file, read ``chunk`` bytes at a time through ``bucket``.

    Opened without following a final link (the caller resolved links and checked the roots:
    a link swapped in since then is refused, not followed). The file's status is taken from
    the open descriptor before and after, so a caller can tell a file that changed while it
    was read. ``keepalive`` is called between chunks (the worker keeps its group membership).
    Raises :class:`OSError` as the system does, :class:`Interrupted` when ``stop`` is set.
    """
    digest = hashlib.new(alg)
    buffer = bytearray(chunk)
    view = memoryview(buffer)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        before = stat_of(os.fstat(fd))
        with os.fdopen(fd, "rb", buffering=0, closefd=False) as f:
            while True:
                if stop is not None and stop.is_set():
                    raise Interrupted(f"stopped while reading {path}")
                bucket.take(chunk)
                n = f.readinto(view)
                if not n:
                    break
                digest.update(view[:n])
                keepalive()
        after = stat_of(os.fstat(fd))
    finally:
        os.close(fd)
    return Digest(digest.hexdigest(), before, after)

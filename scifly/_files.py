"""One file, as scifly sees it: where it is, whether it is safe to read, what it holds.

Only regular files inside the data path are read, and nothing through a link (see the
module docstring of ``_watch``); everything here that touches the file system opens
folder by folder with ``O_NOFOLLOW`` and checks what it opened.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scizoo.core import DataFile, RecordedEntry, ScanBlock

from ._config import ProgramRule
from ._readers import read_file_metadata, shown_path

logger = logging.getLogger(__name__)


class Dropped(Exception):
    """A file that will not become a dataset; the message says why (logged, never sent)."""


@dataclass(frozen=True)
class Watch:
    """A data path and the proposal it belongs to, placed inside a data root by the facility's rule.

    ``path`` is ``root`` followed by the real folders below it (see ``_paths``).
    """

    proposal: str
    path: str
    root: str


@dataclass
class Candidate:
    path: str
    watch: Watch
    rule: ProgramRule
    size: int = -1
    mtime_ns: int = -1
    changed_at: float = 0.0
    closed: bool = False
    #: Seen being written (a modify event as it happened): its close-write says when it is done.
    writing: bool = False


def walk(root: str) -> Iterator[str]:
    # follow_symlinks=False: a link (to a folder or a file, inside or outside) is never
    # walked into nor yielded. The root is the checked data path; should one of its folders be
    # swapped for a link later, its files are walked but never opened (``_open_parent``).
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        yield entry.path
        except OSError:
            continue


def not_regular(st: os.stat_result) -> str:
    if stat.S_ISLNK(st.st_mode):
        # Also a link to a file inside the data path: that file is captured under its
        # own name, and a link is free to point elsewhere by the time it is read.
        return "a symbolic link (links are not followed)"
    return "not a regular file"


def id_source(path: str) -> str:
    """What the message id is made from: the path, or for a name that is not UTF-8, its bytes.

    ``file_message_id`` needs text that encodes as UTF-8; the shown path would do, but
    two names can show alike (``b"\\xff"`` and a literal backslash-x-f-f). The NUL
    starting the hex form appears in no real path, so it cannot be any other file's id.
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return "\0" + os.fsencode(path).hex()
    return path


def _open_parent(c: Candidate) -> tuple[int, str]:
    """The folder holding ``c`` opened from the data root without following a link, and its name there."""
    if os.path.commonpath([c.path, c.watch.path]) != c.watch.path:
        raise Dropped("not inside the data path")
    relative = os.path.relpath(c.path, c.watch.root)
    *folders, name = relative.split(os.sep)
    if any(part in ("", ".", "..") for part in (*folders, name)):
        raise Dropped("not inside the data path")
    try:
        # Only the data root is the facility's own and may go through links (/data -> /gpfs/...);
        # the folders below it, the data path's own included, are opened with O_NOFOLLOW, so a
        # folder swapped for a link after the data path was checked leads nowhere.
        fd = os.open(c.watch.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as err:
        raise Dropped(f"cannot open the data root ({err.strerror})") from None
    folder = c.watch.root
    try:
        for folder in folders:
            inner = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = inner
    except OSError as err:
        os.close(fd)
        if err.errno == errno.ENOENT:
            raise Dropped("its folder is gone") from None
        # ELOOP or ENOTDIR: the folder was swapped for a link (or a file) after its events were seen.
        raise Dropped(f"its folder {shown_path(folder)!r} is a link or no folder ({err.strerror})") from None
    return fd, name


def examine(c: Candidate) -> tuple[os.stat_result, list[RecordedEntry]]:
    """The file's stat and metadata, read from the file inside the data path and nowhere else.

    Raises :class:`Dropped` for a file that is gone, a link, no regular file, or cannot be looked at.
    """
    parent, name = _open_parent(c)
    try:
        st = _lstat_at(parent, name, gone="gone before it could be read")
        if not stat.S_ISREG(st.st_mode):
            raise Dropped(not_regular(st))
        if not c.rule.reader:
            return st, []
        try:
            # O_NONBLOCK: should a named pipe be swapped in after the check, opening it must not hang the tick.
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent)
        except OSError as err:
            if err.errno == errno.ENOENT:
                raise Dropped("gone before it could be read") from None
            if err.errno == errno.ELOOP:
                raise Dropped("replaced by a symbolic link (links are not followed)") from None
            # There but unreadable (permissions): a dataset without the file's own metadata, as before.
            logger.warning("could not open %s to read its metadata: %s", shown_path(c.path), err.strerror)
            return st, []
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise Dropped(not_regular(st))
            fields = read_file_metadata(c.rule.reader, Path(c.path), file=fh)
        # What was read is still the file at this path: a temporary file deleted while we read
        # it is no dataset. (The new file at a replaced path is captured by its own events.)
        after = _lstat_at(parent, name, gone="removed while its metadata was read")
        if (after.st_dev, after.st_ino) != (st.st_dev, st.st_ino):
            raise Dropped("replaced while its metadata was read")
        return st, _file_entries(c, fields)
    finally:
        os.close(parent)


def _lstat_at(parent: int, name: str, *, gone: str) -> os.stat_result:
    try:
        return os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        raise Dropped(gone) from None
    except OSError as err:
        raise Dropped(f"cannot stat it ({err.strerror})") from None


def _file_entries(c: Candidate, fields: dict[str, Any]) -> list[RecordedEntry]:
    return [
        RecordedEntry(name=f"file_{key}", group=c.rule.name, device=c.rule.reader, attribute=key, value=value,
                      raw_value=value)
        for key, value in fields.items()
    ]


def scan_block(c: Candidate, st: os.stat_result) -> ScanBlock:
    mtime = datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC)
    relative = shown_path(os.path.relpath(c.path, c.watch.path))
    return ScanBlock(
        id=relative,
        title=f"{c.rule.name}: {shown_path(os.path.basename(c.path))}",
        start=mtime,
        end=mtime,
        status="finished",
        files=[DataFile(path=shown_path(c.path), size=st.st_size, time=mtime)],
    )

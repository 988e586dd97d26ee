"""Read a few metadata fields from an acquisition program's file, where the format allows.

Every reader returns a flat ``{field: value}`` of at most :data:`MAX_FIELDS` short
scalars and never raises: a file it cannot read gives ``{}`` and the dataset is still
made (its metadata then comes from Tango alone). A reader reads only the file it is
given: the HDF5 reader follows no link to another file (see :func:`read_hdf5`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    import h5py

logger = logging.getLogger(__name__)

MAX_FIELDS = 60
MAX_VALUE = 500
HEADER_BYTES = 64 * 1024

_KEY_VALUE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9 _()/.-]{0,80}?)\s*[=:]\s*(.*?)\s*$")

#: A reader gets the file's path (for its suffix) and the file itself, already open.
Reader = Callable[[Path, BinaryIO], dict[str, Any]]


def valid_text(text: str) -> str:
    """``text`` as valid Unicode: each lone surrogate as a ``\\xNN`` / ``\\udNNN`` escape.

    Python hands over bytes that are not UTF-8 (a file name from ``os.fsdecode``, an HDF5
    string) as lone surrogates, which JSON encoders reject: one such string would sink
    the message and every other message of its batch. Valid text is returned unchanged.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a surrogate surrogateescape did not make (U+D800..U+DC7F)
            return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def shown_path(path: str) -> str:
    """A path (as ``os.fsdecode`` gives it) for messages and logs: undecodable bytes as ``\\xNN``."""
    return valid_text(path)


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text[:MAX_VALUE]


def _field_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_").lower()


def _key_values(lines: list[str], *, prefix: str = "", stop: Callable[[str], bool] = lambda _: False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for raw in lines:
        if stop(raw):
            break
        if prefix and not raw.startswith(prefix):
            continue
        match = _KEY_VALUE.match(raw[len(prefix) :])
        if match and match.group(2):
            name = _field_name(match.group(1))
            if name and name not in out:
                out[name] = _number(match.group(2))
        if len(out) >= MAX_FIELDS:
            break
    return out


def _head(fh: BinaryIO) -> list[str]:
    fh.seek(0)
    return fh.read(HEADER_BYTES).decode("latin-1").splitlines()


def read_ses(path: Path, fh: BinaryIO) -> dict[str, Any]:
    """Scienta SES: the ``[Info]``/``[Region]`` header of a ``.txt``, or the wave note of an ``.ibw``/``.pxt``."""
    if path.suffix.lower() == ".txt":
        return _key_values(_head(fh), stop=lambda ln: ln.startswith("[Data"))
    # Igor binary waves keep SES's header as text in the wave note, at the end of the file.
    size = fh.seek(0, 2)
    fh.seek(max(0, size - HEADER_BYTES))
    tail = fh.read().decode("latin-1")
    lines = tail.replace("\r", "\n").splitlines()
    return _key_values([ln for ln in lines if "=" in ln])


def read_prodigy(path: Path, fh: BinaryIO) -> dict[str, Any]:
    """SPECS Prodigy ``.xy``: ``# Key: value`` comment lines before the data."""
    return _key_values(_head(fh), prefix="# ", stop=lambda ln: bool(ln.strip()) and not ln.startswith("#"))


def _own_members(group: h5py.Group) -> Iterator[tuple[str, Any]]:
    """The members of ``group`` reached by a hard link, i.e. stored in this very file.

    An external link names another file, anywhere (outside the data path too), and
    HDF5 opens it as soon as the member is looked up; a soft link is a path that may
    lead through an external link. Neither is resolved: what they point at within
    the file is reachable by its own hard link anyway.
    """
    import h5py

    for name in group:  # iterating yields link names without resolving them
        if isinstance(group.get(name, getlink=True), h5py.HardLink):
            yield name, group[name]


def _stored_here(dataset: h5py.Dataset) -> bool:
    # A virtual dataset maps other files' data in, and external storage keeps the raw
    # data in other files: reading either would read outside the file we were given.
    return not dataset.is_virtual and not dataset.external


def read_hdf5(path: Path, fh: BinaryIO) -> dict[str, Any]:
    """HDF5/NeXus: attributes of the root and of each top-level group, and its short scalar datasets.

    Only what is stored in this file is read: members behind external or soft links,
    virtual datasets and datasets with external storage are skipped.
    """
    import h5py
    import numpy as np

    out: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        if len(out) >= MAX_FIELDS:
            return
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, np.generic):
            value = value.item()
        elif isinstance(value, np.ndarray):
            if value.size != 1:
                return
            value = value.reshape(()).item()
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
        if isinstance(value, str):
            value = valid_text(value)[:MAX_VALUE]
        if isinstance(value, (str, int, float, bool)):
            out[_field_name(name)] = value

    # The open file object, not the path: scifly opened it without following links and
    # checked it is a regular file inside the data path; opening the path again could
    # reach something else.
    with h5py.File(fh, "r") as f:
        for key, value in f.attrs.items():
            put(key, value)
        for group_name, group in _own_members(f):
            if not isinstance(group, h5py.Group):
                continue
            for key, value in group.attrs.items():
                put(f"{group_name}_{key}", value)
            for key, item in _own_members(group):
                if isinstance(item, h5py.Dataset) and item.size == 1 and _stored_here(item):
                    put(f"{group_name}_{key}", item[()])
    return out


READERS: dict[str, Reader] = {
    "ses": read_ses,
    "prodigy": read_prodigy,
    "hdf5": read_hdf5,
}


def read_file_metadata(reader: str, path: Path, *, file: BinaryIO | None = None) -> dict[str, Any]:
    """The fields a reader finds; ``{}`` for no reader or an unreadable file (logged).

    ``file`` is ``path`` already open for binary reading; the reader then reads it and
    never opens ``path`` (scifly passes the file it opened and checked itself).
    """
    if not reader:
        return {}
    try:
        if file is not None:
            return READERS[reader](path, file)
        with path.open("rb") as fh:
            return READERS[reader](path, fh)
    except Exception as err:  # noqa: BLE001 - a file we cannot parse still becomes a dataset
        logger.warning("could not read %s metadata from %s: %s", reader, shown_path(str(path)), valid_text(str(err)))
        return {}

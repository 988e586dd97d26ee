"""Read a few metadata fields from an acquisition program's file, where the format allows.

Every reader returns a flat ``{field: value}`` of at most :data:`MAX_FIELDS` short
scalars and never raises: a file it cannot read gives ``{}`` and the dataset is still
made (its metadata then comes from Tango alone).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MAX_FIELDS = 60
MAX_VALUE = 500
HEADER_BYTES = 64 * 1024

_KEY_VALUE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9 _()/.-]{0,80}?)\s*[=:]\s*(.*?)\s*$")


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


def _head(path: Path) -> list[str]:
    with path.open("rb") as fh:
        return fh.read(HEADER_BYTES).decode("latin-1").splitlines()


def read_ses(path: Path) -> dict[str, Any]:
    """Scienta SES: the ``[Info]``/``[Region]`` header of a ``.txt``, or the wave note of an ``.ibw``/``.pxt``."""
    if path.suffix.lower() == ".txt":
        return _key_values(_head(path), stop=lambda ln: ln.startswith("[Data"))
    # Igor binary waves keep SES's header as text in the wave note, at the end of the file.
    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(max(0, size - HEADER_BYTES))
        tail = fh.read().decode("latin-1")
    lines = tail.replace("\r", "\n").splitlines()
    return _key_values([ln for ln in lines if "=" in ln])


def read_prodigy(path: Path) -> dict[str, Any]:
    """SPECS Prodigy ``.xy``: ``# Key: value`` comment lines before the data."""
    return _key_values(_head(path), prefix="# ", stop=lambda ln: bool(ln.strip()) and not ln.startswith("#"))


def read_hdf5(path: Path) -> dict[str, Any]:
    """HDF5/NeXus: attributes of the root and of each top-level group, and its short scalar datasets."""
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
            value = value[:MAX_VALUE]
        if isinstance(value, (str, int, float, bool)):
            out[_field_name(name)] = value

    with h5py.File(path, "r") as fh:
        for key, value in fh.attrs.items():
            put(key, value)
        for group_name, group in fh.items():
            if not isinstance(group, h5py.Group):
                continue
            for key, value in group.attrs.items():
                put(f"{group_name}_{key}", value)
            for key, item in group.items():
                if isinstance(item, h5py.Dataset) and item.size == 1:
                    put(f"{group_name}_{key}", item[()])
    return out


READERS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "ses": read_ses,
    "prodigy": read_prodigy,
    "hdf5": read_hdf5,
}


def read_file_metadata(reader: str, path: Path) -> dict[str, Any]:
    """The fields a reader finds; ``{}`` for no reader or an unreadable file (logged)."""
    if not reader:
        return {}
    try:
        return READERS[reader](path)
    except Exception as err:  # noqa: BLE001 - a file we cannot parse still becomes a dataset
        logger.warning("could not read %s metadata from %s: %s", reader, path, err)
        return {}

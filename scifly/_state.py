"""What scifly has captured, kept across restarts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def _line(path: str, size: int, mtime_ns: int) -> bytes:
    item: dict[str, Any]
    try:
        path.encode("utf-8")
        item = {"path": path}
    except UnicodeEncodeError:
        # A name that is not UTF-8 reaches us with lone surrogates (os.fsdecode), which
        # JSON can only hold as escapes that strict parsers reject or replace: keep its
        # bytes, losslessly, as hex ("shown" is for people reading the file).
        raw = os.fsencode(path)
        item = {"path_hex": raw.hex(), "shown": raw.decode("utf-8", "backslashreplace")}
    return json.dumps({**item, "size": size, "mtime_ns": mtime_ns}).encode() + b"\n"


def _path(item: dict[str, Any]) -> str:
    if "path_hex" in item:
        return os.fsdecode(bytes.fromhex(item["path_hex"]))
    path = item["path"]
    if not isinstance(path, str):
        raise TypeError("path is not a string")
    return path


class SentState:
    """What has been captured: one fsync'd JSON line per file, ``{path, size, mtime_ns}``.

    Paths are kept as :func:`os.fsdecode` gives them (the watcher's own form), so a name
    that is not UTF-8 is a key like any other; on disk it is ``path_hex`` instead of
    ``path`` and the file stays valid UTF-8 JSON.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sent: dict[str, tuple[int, int]] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            for line in path.read_bytes().split(b"\n"):
                try:
                    item = json.loads(line)
                    self.sent[_path(item)] = (item["size"], item["mtime_ns"])
                except (ValueError, KeyError, TypeError):
                    continue  # a partial last line from a crash: that file is captured again

    def record(self, files: list[tuple[str, int, int]]) -> None:
        lines = b"".join(_line(p, s, m) for p, s, m in files)
        with self.path.open("ab") as fh:
            fh.write(lines)
            fh.flush()
            os.fsync(fh.fileno())
        for p, s, m in files:
            self.sent[p] = (s, m)

"""What scifly has captured, kept across restarts."""

from __future__ import annotations

import json
import os
from pathlib import Path


class SentState:
    """What has been captured: one fsync'd JSON line per file, ``{path, size, mtime_ns}``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sent: dict[str, tuple[int, int]] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            for line in path.read_bytes().split(b"\n"):
                try:
                    item = json.loads(line)
                    self.sent[item["path"]] = (item["size"], item["mtime_ns"])
                except (ValueError, KeyError, TypeError):
                    continue  # a partial last line from a crash: that file is captured again

    def record(self, files: list[tuple[str, int, int]]) -> None:
        lines = b"".join(
            json.dumps({"path": p, "size": s, "mtime_ns": m}).encode() + b"\n" for p, s, m in files
        )
        with self.path.open("ab") as fh:
            fh.write(lines)
            fh.flush()
            os.fsync(fh.fileno())
        for p, s, m in files:
            self.sent[p] = (s, m)

"""A bounded on-disk store of step results, by key, evicting the least recently used."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class ResultCache:
    """One JSON file per key under ``folder``; at most ``max_bytes`` in all."""

    def __init__(self, folder: Path, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        folder.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        try:
            data: dict[str, Any] = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None
        os.utime(path)  # recently used
        return data

    def put(self, key: str, result: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result), encoding="utf-8")
        os.replace(tmp, path)
        self._evict()

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("*/*.json"))

    def _evict(self) -> None:
        files = sorted(self.folder.glob("*/*.json"), key=lambda p: p.stat().st_mtime_ns)
        total = sum(p.stat().st_size for p in files)
        for path in files:
            if total <= self.max_bytes:
                break
            total -= path.stat().st_size
            path.unlink(missing_ok=True)

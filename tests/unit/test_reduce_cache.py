"""The chained cache: same inputs no work, a changed parameter recomputes downstream only,
a new step version invalidates its results and what depends on them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from scireduce import ResultCache, run_pipeline
from scireduce.pipelines import PROFILE


def _scan(folder: Path) -> Path:
    path = folder / "scan.dat"
    path.write_text("".join(f"{x} {100 + 10 * x} {1000 + x}\n" for x in range(10)))
    return path


def test_chained_keys_decide_what_runs(tmp_path: Path) -> None:
    raw, cache = _scan(tmp_path), ResultCache(tmp_path / "cache")
    first = run_pipeline(PROFILE, raw, {"bin": {"bins": 3}}, cache)
    assert first.executed == ["load", "normalise", "bin"]
    assert run_pipeline(PROFILE, raw, {"bin": {"bins": 3}}, cache).executed == []
    assert run_pipeline(PROFILE, raw, {"bin": {"bins": 5}}, cache).executed == ["bin"]
    assert run_pipeline(PROFILE, raw, {"normalise": {"scale": 2}, "bin": {"bins": 5}}, cache).executed == [
        "normalise", "bin"]
    bumped = dataclasses.replace(PROFILE, steps=(PROFILE.steps[0], dataclasses.replace(PROFILE.steps[1], version="2"),
                                                 PROFILE.steps[2]))
    assert run_pipeline(bumped, raw, {"bin": {"bins": 3}}, cache).executed == ["normalise", "bin"]
    raw.write_text(raw.read_text() + "10 200 1010\n")  # the raw file changed: everything again
    assert run_pipeline(PROFILE, raw, {"bin": {"bins": 3}}, cache).executed == ["load", "normalise", "bin"]


def test_the_cache_is_bounded(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "cache", max_bytes=2_000)
    for n in range(50):
        cache.put(f"{n:064x}", {"payload": "x" * 100})
    assert cache.size() <= 2_000
    assert cache.get(f"{49:064x}") is not None and cache.get(f"{0:064x}") is None  # oldest went first

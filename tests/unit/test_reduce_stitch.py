"""The ``stitch`` pipeline: segments of one curve, each measured with its own attenuation, put
back on one scale with propagated uncertainties; numbers checked against the curve they came from."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from scireduce._cache import ResultCache
from scireduce._pipeline import run_pipeline
from scireduce.pipelines import STITCH

MONITOR = 1e6


def _truth(x: float) -> float:
    return 1000.0 * math.exp(-x)


def _segment(folder: Path, name: str, xs: list[float], attenuation: float) -> Path:
    """A scan of the curve through an attenuator: counts = truth * monitor / attenuation (scale 1)."""
    path = folder / name
    path.write_text("# x counts monitor\n" + "".join(
        f"{x} {_truth(x) * MONITOR / attenuation / 1000.0} {MONITOR}\n" for x in xs))
    return path


def _grid(low: float, high: float, n: int) -> list[float]:
    return [low + (high - low) * i / (n - 1) for i in range(n)]


def test_three_attenuated_segments_stitch_back_into_the_curve_they_came_from(tmp_path: Path) -> None:
    files = [_segment(tmp_path, "c.dat", _grid(3.0, 5.0, 9), 100.0),  # given out of order on purpose
             _segment(tmp_path, "a.dat", _grid(0.0, 2.0, 9), 1.0),
             _segment(tmp_path, "b.dat", _grid(1.5, 3.5, 9), 10.0)]
    done = run_pipeline(STITCH, files, {}, ResultCache(tmp_path / "cache"))
    curve = done.results["stitch"]
    assert curve["segments"] == [str(tmp_path / n) for n in ("a.dat", "b.dat", "c.dat")]
    # Each later segment was attenuated 10 times more: scaled back by 10 and 100.
    assert curve["scales"][0] == 1.0
    assert curve["scales"][1] == pytest.approx(10.0, rel=1e-3)
    assert curve["scales"][2] == pytest.approx(100.0, rel=1e-3)
    assert len(curve["x"]) == 27 and curve["x"] == sorted(curve["x"])
    for x, y, sigma in zip(curve["x"], curve["y"], curve["sigma"], strict=True):
        # y is counts / monitor of the first segment's scale: truth / 1000.
        assert y == pytest.approx(_truth(x) / 1000.0, rel=5e-3), x
        assert sigma > 0
    # A scaled point's uncertainty holds its own and the scale factor's: larger than k sigma alone.
    b = next(i for i, x in enumerate(curve["x"]) if x == 3.5)
    y_raw = _truth(3.5) / 10.0 / 1000.0
    own = 10.0 * y_raw * math.sqrt(1 / (y_raw * MONITOR) + 1 / MONITOR)
    assert curve["sigma"][b] > own * curve["scales"][1] / 10.0


def test_a_segment_that_does_not_overlap_fails_the_job_saying_which(tmp_path: Path) -> None:
    files = [_segment(tmp_path, "a.dat", _grid(0.0, 1.0, 5), 1.0), _segment(tmp_path, "far.dat", _grid(2.0, 3.0, 5), 1.0)]
    with pytest.raises(ValueError, match=r"far\.dat overlaps the curve so far .* at 0 point"):
        run_pipeline(STITCH, files, {}, ResultCache(tmp_path / "cache"))


def test_a_changed_stitch_parameter_recomputes_only_the_stitch(tmp_path: Path) -> None:
    files = [_segment(tmp_path, "a.dat", _grid(0.0, 2.0, 9), 1.0), _segment(tmp_path, "b.dat", _grid(1.5, 3.5, 9), 10.0)]
    cache = ResultCache(tmp_path / "cache")
    first = run_pipeline(STITCH, files, {}, cache)
    assert first.executed == ["load_segments", "normalise_segments", "stitch"]
    again = run_pipeline(STITCH, files, {"stitch": {"min_overlap": 1}}, cache)
    assert again.executed == ["stitch"]
    assert run_pipeline(STITCH, files, {"stitch": {"min_overlap": 1}}, cache).executed == []
    # The same files in another group (one more) are another input: everything runs again.
    extra = _segment(tmp_path, "c.dat", _grid(3.0, 4.0, 5), 100.0)
    assert run_pipeline(STITCH, [*files, extra], {}, cache).executed[0] == "load_segments"

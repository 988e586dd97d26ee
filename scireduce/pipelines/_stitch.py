"""``stitch``: the segments of one curve measured in several scans (e.g. a reflectivity curve at
several angles, each with its own attenuation), put on one scale into one curve.

A group reduction's pipeline: its raw input is the files of the group's scans. Each segment is
read and normalised as :mod:`~scireduce.pipelines._profile` does (counts / monitor, Poisson
uncertainties). Segments are taken in the order of their lowest x; each is scaled onto the curve
made so far by the weighted mean of the ratios where they overlap:

    for each point i of the segment inside the curve's x range,
    r_i = c(x_i) / y_i,  sigma_r_i = r_i * sqrt((sigma_c(x_i) / c(x_i))^2 + (sigma_i / y_i)^2)
    k = sum(r_i / sigma_r_i^2) / sum(1 / sigma_r_i^2),  sigma_k = 1 / sqrt(sum(1 / sigma_r_i^2))

where c is the curve so far, linearly interpolated (its uncertainty too, an approximation that
neglects the correlation of neighbouring points). The scaled segment's points carry
sigma' = sqrt((k sigma)^2 + (y sigma_k)^2) and join the curve. A segment that does not overlap
the curve at ``min_overlap`` points with a positive value cannot be scaled: the job fails saying
which. Written from the physics (the weighted-ratio scaling reflectometry reductions use), not
from another program's code.
"""

from __future__ import annotations

import bisect
import math
from typing import Annotated, Any

from pydantic import BaseModel, Field

from .._pipeline import Pipeline, Step
from ._profile import NormaliseParams, load, normalise

Curve = list[tuple[float, float, float]]  # (x, y, sigma), sorted by x


class StitchParams(BaseModel):
    min_overlap: Annotated[int, Field(ge=1, le=1000, description=(
        "Points of a segment inside the curve so far needed to scale it onto the curve."))] = 2


def load_segments(params: BaseModel, raw: dict[str, Any]) -> dict[str, Any]:
    paths = raw.get("paths") or [raw["path"]]
    return {"segments": [{"path": path, **load(params, {"path": path})} for path in paths]}


def normalise_segments(params: NormaliseParams, load_segments: dict[str, Any]) -> dict[str, Any]:
    return {"segments": [{"path": segment["path"], **normalise(params, segment)}
                         for segment in load_segments["segments"]]}


def _at(curve: Curve, x: float) -> tuple[float, float]:
    """The curve's value and uncertainty at ``x`` (inside its range), linearly interpolated."""
    xs = [p[0] for p in curve]
    i = bisect.bisect_left(xs, x)
    if i < len(curve) and curve[i][0] == x:
        return curve[i][1], curve[i][2]
    (x0, y0, s0), (x1, y1, s1) = curve[i - 1], curve[i]
    t = (x - x0) / (x1 - x0)
    return y0 + t * (y1 - y0), s0 + t * (s1 - s0)


def _scale(curve: Curve, segment: Curve, min_overlap: int, name: str) -> tuple[float, float]:
    """The factor (and its uncertainty) that puts ``segment`` onto ``curve``."""
    low, high = curve[0][0], curve[-1][0]
    weights = ratios = 0.0
    used = 0
    for x, y, sigma in segment:
        if not low <= x <= high or y <= 0:
            continue
        c, sigma_c = _at(curve, x)
        if c <= 0:
            continue
        r = c / y
        sigma_r = r * math.hypot(sigma_c / c, sigma / y)
        if sigma_r <= 0:
            continue
        weights += 1 / sigma_r**2
        ratios += r / sigma_r**2
        used += 1
    if used < min_overlap:
        raise ValueError(f"segment {name} overlaps the curve so far (x from {low:g} to {high:g}) at {used} "
                         f"point(s) with a positive value; {min_overlap} are needed to scale it onto the curve")
    return ratios / weights, 1 / math.sqrt(weights)


def stitch(params: StitchParams, normalise_segments: dict[str, Any]) -> dict[str, Any]:
    segments = [(s["path"], sorted(zip(s["x"], s["y"], s["sigma"], strict=True)))
                for s in normalise_segments["segments"] if s["x"]]
    if not segments:
        raise ValueError("no segment holds a point")
    segments.sort(key=lambda named: named[1][0][0])
    curve: Curve = list(segments[0][1])
    scales, scale_sigmas = [1.0], [0.0]
    for path, segment in segments[1:]:
        k, sigma_k = _scale(curve, segment, params.min_overlap, path)
        curve.extend((x, k * y, math.hypot(k * sigma, y * sigma_k)) for x, y, sigma in segment)
        curve.sort()
        scales.append(k)
        scale_sigmas.append(sigma_k)
    return {"x": [p[0] for p in curve], "y": [p[1] for p in curve], "sigma": [p[2] for p in curve],
            "n": [1] * len(curve), "segments": [path for path, _ in segments], "scales": scales,
            "scale_sigmas": scale_sigmas}


STITCH = Pipeline(
    name="stitch",
    version="1",
    description="segments of one curve from several scans, normalised and scaled onto one curve",
    steps=(
        Step("load_segments", "1", load_segments),
        Step("normalise_segments", "1", normalise_segments, NormaliseParams, inputs=("load_segments",)),
        Step("stitch", "1", stitch, StitchParams, inputs=("normalise_segments",)),
    ),
)

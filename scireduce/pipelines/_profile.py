"""``profile``: a scan's counts normalised by its monitor, with propagated uncertainties,
binned into a 1D profile.

Input: a NeXus (HDF5) scan file, as the simulated beamline writes it: the default
``NXentry``'s ``NXdata`` gives the signal (counts) and its first axis (x, the scanned motor),
its ``NXmonitor`` the monitor; or a text file of whitespace-separated columns
``x counts monitor`` (``#`` comments).
Counts and monitor are Poisson: for y = s * c / m, sigma_y = y * sqrt(1/c + 1/m) (a point
with no counts gets the uncertainty of one count, s / m). A bin holds the mean of its points,
with sigma = sqrt(sum sigma_i^2) / n.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field

from .._pipeline import Pipeline, Step


class NormaliseParams(BaseModel):
    scale: Annotated[float, Field(gt=0, description="Multiply the normalised counts by this.")] = 1.0


class BinParams(BaseModel):
    bins: Annotated[int, Field(ge=1, le=10_000, description="Equal-width bins over the scan's x range.")] = 5


def load(params: BaseModel, raw: dict[str, Any]) -> dict[str, Any]:
    import h5py

    if h5py.is_hdf5(raw["path"]):
        return _load_nexus(Path(raw["path"]))
    x: list[float] = []
    counts: list[float] = []
    monitor: list[float] = []
    for line in Path(raw["path"]).read_text(encoding="utf-8").splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 3:
            continue
        x.append(float(fields[0]))
        counts.append(float(fields[1]))
        monitor.append(float(fields[2]))
    if not x:
        raise ValueError(f"{raw['path']} holds no 'x counts monitor' rows")
    return {"x": x, "counts": counts, "monitor": monitor}


def _nx_group(parent: Any, nx_class: str, preferred: str | None = None) -> Any:
    """The child group of a NeXus class: the one named by ``default`` if it is one, else the first."""
    import h5py

    def is_class(item: Any) -> bool:
        found = item.attrs.get("NX_class", b"")
        return isinstance(item, h5py.Group) and (found.decode() if isinstance(found, bytes) else str(found)) == nx_class

    if preferred and preferred in parent and is_class(parent[preferred]):
        return parent[preferred]
    return next((parent[name] for name in parent if is_class(parent[name])), None)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode()
    if hasattr(value, "tolist"):  # an array of names: the first
        items = value.tolist()
        return _text(items[0] if isinstance(items, list) else items)
    return str(value)


def _load_nexus(path: Path) -> dict[str, Any]:
    import h5py

    with h5py.File(path, "r") as f:
        entry = _nx_group(f, "NXentry", _text(f.attrs.get("default", "")))
        data = _nx_group(entry, "NXdata", _text(entry.attrs.get("default", ""))) if entry is not None else None
        monitor = _nx_group(entry, "NXmonitor") if entry is not None else None
        if data is None or monitor is None or "data" not in monitor:
            raise ValueError(f"{path} is HDF5 but holds no NXentry with an NXdata and an NXmonitor")
        signal = _text(data.attrs.get("signal", "counts"))
        axes = data.attrs.get("axes")
        axis = _text(axes) if axes is not None else "x"
        if signal not in data or axis not in data:
            raise ValueError(f"{path}: {data.name} has no {signal!r} signal or {axis!r} axis")
        x, counts, mon = (data[axis][()].tolist(), data[signal][()].tolist(), monitor["data"][()].tolist())
    if not len(x) == len(counts) == len(mon) or not x:
        raise ValueError(f"{path}: x, counts and monitor hold {len(x)}, {len(counts)} and {len(mon)} points")
    return {"x": [float(v) for v in x], "counts": [float(v) for v in counts], "monitor": [float(v) for v in mon]}


def normalise(params: NormaliseParams, load: dict[str, Any]) -> dict[str, Any]:
    y, sigma = [], []
    for c, m in zip(load["counts"], load["monitor"], strict=True):
        if m <= 0:
            raise ValueError("a monitor reading of 0: the point cannot be normalised")
        value = params.scale * c / m
        y.append(value)
        sigma.append(value * math.sqrt(1 / c + 1 / m) if c > 0 else params.scale / m)
    return {"x": load["x"], "y": y, "sigma": sigma}


def bin_profile(params: BinParams, normalise: dict[str, Any]) -> dict[str, Any]:
    x, y, sigma = normalise["x"], normalise["y"], normalise["sigma"]
    low, high = min(x), max(x)
    width = (high - low) / params.bins or 1.0
    sums: list[list[tuple[float, float]]] = [[] for _ in range(params.bins)]
    for xi, yi, si in zip(x, y, sigma, strict=True):
        index = min(int((xi - low) / width), params.bins - 1)
        sums[index].append((yi, si))
    centres, means, errors, counts = [], [], [], []
    for i, points in enumerate(sums):
        if not points:
            continue
        counts.append(len(points))
        centres.append(low + (i + 0.5) * width)
        means.append(sum(p[0] for p in points) / len(points))
        errors.append(math.sqrt(sum(p[1] ** 2 for p in points)) / len(points))
    return {"x": centres, "y": means, "sigma": errors, "n": counts}


PROFILE = Pipeline(
    name="profile",
    version="1",
    description="counts / monitor with Poisson uncertainties, binned into a 1D profile",
    steps=(
        Step("load", "2", load),
        Step("normalise", "1", normalise, NormaliseParams, inputs=("load",)),
        Step("bin", "2", bin_profile, BinParams, inputs=("normalise",)),
    ),
)

"""The simulated beamline's scan files: NeXus (HDF5), as a step scan at a facility writes them.

One ``NXentry`` holding the scan's ``NXdata`` (signal ``counts`` over the axis ``x``, the
scanned motor's positions) and an ``NXmonitor`` with the incident-beam monitor, plus the
title and start and end times. The layout follows the NeXus base classes
(https://manual.nexusformat.org/classes/base_classes/): what the shipped reduction
(``profile``) reads, and what any NeXus reader finds through ``default`` and ``signal``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path


def write_scan_nexus(path: Path, *, x: Sequence[float], counts: Sequence[int], monitor: Sequence[int],
                     title: str, start: datetime, end: datetime, motor: str = "mot01", x_units: str = "mm") -> Path:
    """Write one scan as NeXus; the lengths of ``x``, ``counts`` and ``monitor`` must agree."""
    import h5py  # here: the rest of the stand-ins need no HDF5
    import numpy as np

    if not len(x) == len(counts) == len(monitor):
        raise ValueError(f"x, counts and monitor differ in length ({len(x)}, {len(counts)}, {len(monitor)})")
    tmp = path.with_name(path.name + ".part")  # written whole, then renamed: a reader never sees half a file
    with h5py.File(tmp, "w") as f:
        f.attrs["default"] = "entry"
        f.attrs["creator"] = "scizoo simulated beamline"
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry.attrs["default"] = "data"
        entry["title"] = title
        entry["start_time"] = start.isoformat()
        entry["end_time"] = end.isoformat()
        data = entry.create_group("data")
        data.attrs["NX_class"] = "NXdata"
        data.attrs["signal"] = "counts"
        data.attrs["axes"] = ["x"]
        data.attrs["x_indices"] = 0
        data["counts"] = np.asarray(counts, dtype=np.int64)
        data["counts"].attrs["units"] = "counts"
        data["x"] = np.asarray(x, dtype=np.float64)
        data["x"].attrs["units"] = x_units
        data["x"].attrs["long_name"] = motor
        mon = entry.create_group("monitor")
        mon.attrs["NX_class"] = "NXmonitor"
        mon["data"] = np.asarray(monitor, dtype=np.int64)
        mon["data"].attrs["units"] = "counts"
    tmp.replace(path)
    return path

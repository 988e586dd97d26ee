"""The shipped pipeline reads the simulated beamline's NeXus files as it reads text columns."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import h5py
import pytest

from scireduce.pipelines._profile import load
from scizoo.testing.nexus import write_scan_nexus

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_nexus_scan_and_the_same_scan_as_text_load_alike(tmp_path: Path) -> None:
    rows = [(0.0, 10, 1000), (0.1, 0, 990), (0.2, 33, 1010)]
    nexus = write_scan_nexus(tmp_path / "scan.nxs", x=[r[0] for r in rows], counts=[r[1] for r in rows],
                             monitor=[r[2] for r in rows], title="ascan", start=NOW, end=NOW)
    text = tmp_path / "scan.dat"
    text.write_text("# x counts monitor\n" + "".join(f"{x} {c} {m}\n" for x, c, m in rows))
    assert load(None, {"path": str(nexus)}) == load(None, {"path": str(text)}) == {
        "x": [0.0, 0.1, 0.2], "counts": [10.0, 0.0, 33.0], "monitor": [1000.0, 990.0, 1010.0]}
    with h5py.File(nexus) as f:  # what any NeXus reader follows: default -> NXdata -> signal over axes
        data = f[f.attrs["default"]][f[f.attrs["default"]].attrs["default"]]
        assert data.attrs["NX_class"] == "NXdata" and data.attrs["signal"] == "counts"


def test_an_hdf5_file_that_is_not_a_scan_is_refused_with_what_it_lacks(tmp_path: Path) -> None:
    odd = tmp_path / "odd.h5"
    with h5py.File(odd, "w") as f:
        f.create_group("entry").attrs["NX_class"] = "NXentry"
    with pytest.raises(ValueError, match="holds no NXentry with an NXdata and an NXmonitor"):
        load(None, {"path": str(odd)})
    with pytest.raises(ValueError, match="differ in length"):
        write_scan_nexus(tmp_path / "bad.nxs", x=[0.0], counts=[], monitor=[1], title="", start=NOW, end=NOW)

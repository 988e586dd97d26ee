"""scifly's restart state and readers against what a file system holds: odd names, links."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py

from scifly import SentState, read_file_metadata


def test_a_name_that_is_not_utf8_round_trips_through_the_state_file(tmp_path: Path) -> None:
    odd = os.fsdecode(os.fsencode(tmp_path) + b"/scan_\xff.dat")  # as watchdog and scandir give it
    alike = f"{tmp_path}/scan_\\xff.dat"  # a valid name that reads like it
    state = SentState(tmp_path / "sent.jsonl")
    state.record([(odd, 7, 11), (alike, 3, 12), (f"{tmp_path}/é.dat", 1, 13)])
    text = (tmp_path / "sent.jsonl").read_bytes().decode("utf-8")  # strict: valid UTF-8
    assert "\\udcff" not in text, "a lone surrogate escape, which strict JSON parsers reject"
    assert all(json.loads(line) for line in text.splitlines())
    assert SentState(tmp_path / "sent.jsonl").sent == {odd: (7, 11), alike: (3, 12), f"{tmp_path}/é.dat": (1, 13)}


def test_the_hdf5_reader_reads_the_file_it_is_given_and_follows_no_link(tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere.h5"
    with h5py.File(secret, "w") as fh:
        fh.attrs["secret"] = "outside-only"
        fh.create_group("g").attrs["secret"] = "outside-only"
        fh["g"]["val"] = 424242
    scan = tmp_path / "scan.h5"
    with h5py.File(scan, "w") as fh:
        fh.attrs["title"] = "inside"
        entry = fh.create_group("entry")
        entry["energy"] = 21.2
        fh["ext"] = h5py.ExternalLink(str(secret), "/")
        entry["leak"] = h5py.ExternalLink(str(secret), "/g/val")
        fh["alias"] = h5py.SoftLink("/ext/g")
        entry["also"] = h5py.SoftLink("/entry/energy")  # inside, but read under its own name already
    expected = {"title": "inside", "entry_energy": 21.2}
    assert read_file_metadata("hdf5", scan) == expected
    with scan.open("rb") as fh:
        assert read_file_metadata("hdf5", Path("/ignored/name.h5"), file=fh) == expected

"""scifly against what a file system holds: odd names, links, and data paths outside the facility's rule."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import h5py
import pytest
from pydantic import ValidationError

from scifly import DataPathRules, PathRefused, SciflySettings, SentState, read_file_metadata
from scifly._files import Watch
from scifly._paths import open_folders
from scizoo.core import ConfigError


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


# --- which data paths may be watched: the facility's rule, not the PathFixer's word ----------


def _tree(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    for folder in ("fly/20240001/raw", "fly/20240002", "other/20240001", "visitors/fly/20240001"):
        (data / folder).mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    return data


def _refused(rules: DataPathRules, proposal: str, path: Path | str, beamline: str = "fly") -> str:
    with pytest.raises(PathRefused) as info:
        rules.place(proposal=proposal, path=str(path), beamline=beamline)
    assert info.value.path == str(path) and info.value.proposal == proposal
    return info.value.reason


def test_a_data_path_is_accepted_only_where_the_layout_puts_its_proposal(tmp_path: Path) -> None:
    data = _tree(tmp_path)
    rules = DataPathRules(roots=[str(data)])
    assert rules.layout == "{beamline}/{proposal}"
    for path in (data / "fly/20240001", data / "fly/20240001/raw", f"{data}/fly/20240001/"):
        watch = rules.place(proposal="20240001", path=str(path), beamline="fly")
        assert watch == Watch("20240001", os.path.normpath(path), str(data))
    # Not made yet (the acquisition program makes it): accepted, and made by open_folders.
    new = rules.place(proposal="20240001", path=f"{data}/fly/20240001/new/deeper", beamline="fly")
    open_folders(new)
    assert (data / "fly/20240001/new/deeper").is_dir()

    assert "not inside a data root" in _refused(rules, "20240001", tmp_path / "outside")
    assert "not inside a data root" in _refused(rules, "20240001", "/etc")
    assert "not where the layout puts proposal '20240001'" in _refused(rules, "20240001", data / "fly/20240002")
    assert "not where the layout puts" in _refused(rules, "20240002", data / "fly/20240001/raw")
    assert "not where the layout puts" in _refused(rules, "20240001", data / "other/20240001")  # another beamline
    assert "not where the layout puts" in _refused(rules, "20240001", data / "fly")
    assert "not where the layout puts" in _refused(rules, "20240001", data)
    assert "not an absolute path" in _refused(rules, "20240001", "data/fly/20240001")
    assert "cannot be resolved" in _refused(rules, "20240001", f"{data}/fly/20240001/\0")
    for proposal in ("", ".", "..", "../fly/20240001", "2024/0001"):
        assert "is not a folder name" in _refused(rules, proposal, data / "fly/20240001")
    # A proposal id is matched as a name, never as a pattern.
    assert "not where the layout puts" in _refused(rules, "2024*", data / "fly/20240001")
    assert "not where the layout puts" in _refused(rules, "2024000[12]", data / "fly/20240001")


def test_links_and_dotdot_cannot_lead_out_of_the_rule(tmp_path: Path) -> None:
    data = _tree(tmp_path)
    rules = DataPathRules(roots=[str(data)])
    mine = data / "fly/20240001"
    (mine / "escape").symlink_to(tmp_path / "outside")
    (mine / "neighbour").symlink_to(data / "fly/20240002")
    (mine / "current").symlink_to(mine / "raw")  # a link inside the proposal's own folder is fine
    (data / "fly/20240009").symlink_to(data / "fly/20240002")  # another proposal's folder under a new name
    assert "not inside a data root" in _refused(rules, "20240001", mine / "escape")
    assert "not inside a data root" in _refused(rules, "20240001", mine / "escape/x/y")
    assert "not where the layout puts" in _refused(rules, "20240001", mine / "neighbour")
    assert "not where the layout puts" in _refused(rules, "20240001", f"{mine}/../20240002")
    assert "not inside a data root" in _refused(rules, "20240001", f"{mine}/../../../outside")
    assert "not where the layout puts" in _refused(rules, "20240009", data / "fly/20240009")
    # The watched path is the real folder: the catalogue names it the same however it was reached.
    assert rules.place(proposal="20240001", path=str(mine / "current"), beamline="fly").path == str(mine / "raw")
    assert rules.place(proposal="20240001", path=f"{mine}/x/../raw", beamline="fly").path == str(mine / "raw")


def test_a_root_reached_through_a_link_keeps_its_configured_name(tmp_path: Path) -> None:
    # /data -> /gpfs/data: the facility's own link; the catalogue keeps /data.
    real = _tree(tmp_path)
    (tmp_path / "link").symlink_to(real)
    rules = DataPathRules(roots=[str(tmp_path / "nothing"), str(tmp_path / "link")])
    for spelled in (tmp_path / "link/fly/20240001/raw", real / "fly/20240001/raw"):
        watch = rules.place(proposal="20240001", path=str(spelled), beamline="fly")
        assert watch == Watch("20240001", str(tmp_path / "link/fly/20240001/raw"), str(tmp_path / "link"))


def test_a_layout_with_any_folder_and_several_roots(tmp_path: Path) -> None:
    data = _tree(tmp_path)
    rules = DataPathRules(roots=[str(tmp_path / "outside"), str(data)], layout="/*/{beamline}/{proposal}/")
    assert rules.layout == "*/{beamline}/{proposal}"
    assert rules.place(proposal="20240001", path=str(data / "visitors/fly/20240001"), beamline="fly").root == str(data)
    assert "not where the layout puts" in _refused(rules, "20240001", data / "fly/20240001/raw")
    layout = "*/{beamline}/{proposal}/..."
    assert rules.describe() == f"{tmp_path}/outside/{layout} or {data}/{layout}"


@pytest.mark.parametrize(("rules", "problem"), [
    ({"roots": []}, "at least 1 item"),
    ({"roots": ["data"]}, "must be an absolute path"),
    ({"roots": ["/data"], "layout": "{beamline}"}, "has no {proposal}"),
    ({"roots": ["/data"], "layout": "{beamline}/{user}/{proposal}"}, "uses ['user']"),
    ({"roots": ["/data"], "layout": "{proposal}/../x"}, "'..'"),
    ({"roots": ["/data"], "layout": "a//{proposal}"}, "an empty"),
    ({"roots": ["/data"], "layout": "{proposal"}, "is not a pattern"),
])
def test_a_rule_that_cannot_hold_is_refused_at_start(rules: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(problem)):
        DataPathRules.model_validate(rules)


def test_scifly_does_not_start_without_data_roots(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SCIFLY_DATA_ROOTS"):
        SciflySettings(data_roots=[]).data_paths()
    with pytest.raises(ConfigError, match=re.escape("has no {proposal}")):
        SciflySettings(data_roots=["/data"], data_path_layout="{beamline}").data_paths()
    assert SciflySettings(data_roots=["/data"]).data_paths() == DataPathRules(roots=["/data"])


def test_open_folders_never_makes_a_folder_through_a_link(tmp_path: Path) -> None:
    data = _tree(tmp_path)
    rules = DataPathRules(roots=[str(data)])
    watch = rules.place(proposal="20240001", path=str(data / "fly/20240001/raw/new"), beamline="fly")
    # Swapped for a link after the path was checked: nothing is made outside.
    (data / "fly/20240001/raw").rename(data / "fly/20240001/raw_old")
    (data / "fly/20240001/raw").symlink_to(tmp_path / "outside")
    with pytest.raises(PathRefused, match="is a link or no folder"):
        open_folders(watch)
    assert not (tmp_path / "outside/new").exists()
    gone = Watch("20240001", str(tmp_path / "missing/fly/20240001"), str(tmp_path / "missing"))
    with pytest.raises(PathRefused, match=r"the data root .* cannot be opened"):
        open_folders(gone)
    assert not (tmp_path / "missing").exists(), "a data root is never made"

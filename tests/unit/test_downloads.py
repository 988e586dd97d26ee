"""The download rules on plain data: the archive's names, its checksum files, the size limit's answer."""

from __future__ import annotations

import pytest

from scanlog_api._downloads import DataRoots, Entry, Plan, _arcname, checksum_files, too_large, transfer_url

ROOTS = DataRoots(("/data",), ("/data",))


def test_a_data_root_is_an_absolute_path() -> None:
    with pytest.raises(ValueError, match="absolute"):
        DataRoots.of(["data"])


def test_a_file_is_placed_under_its_dataset_by_its_path_within_the_dataset_folder() -> None:
    assert _arcname("p/1", "/data/x/scan/raw/a.tif", "/data/x/scan", ROOTS) == "p_1/raw/a.tif"
    assert _arcname("p/1", "raw/a.tif", "/data/x/scan", ROOTS) == "p_1/raw/a.tif"  # SciCat's relative paths
    assert _arcname("p/1", "/data/y/b.h5", "/data/x/scan", ROOTS) == "p_1/y/b.h5"  # outside its folder: from the root


def test_checksum_files_are_what_sha256sum_checks() -> None:
    plan = Plan([Entry("p", "/data/a", "p/a", 1, 1, "ab" * 32, "sha256", real="/data/a"),
                 Entry("p", "/data/b", "p/b", 1, 1, "", "", real="/data/b"),
                 Entry("p", "/data/c", "p/c", 1, 1, "cd" * 32, "sha256", refused="outside the data roots")],
                {"p": "/data"})
    assert checksum_files(plan) == {"checksums.sha256": f"{'ab' * 32}  p/a\n".encode()}


def test_over_the_limit_the_answer_gives_the_size_and_each_datasets_transfer_link() -> None:
    plan = Plan([Entry("10.1/x", "/data/s/a", "10.1_x/a", 600, 600, "", "", real="/data/s/a")], {"10.1/x": "/data/s"})
    assert too_large(plan, 600, "") is None
    answer = too_large(plan, 599, "https://g.example.org/?origin_path=/{path}&id={pid}")
    assert answer is not None and answer["size"] == 600 and answer["limit"] == 599
    assert answer["transfer"] == [{"dataset": "10.1/x", "folder": "/data/s",
                                   "url": "https://g.example.org/?origin_path=/data/s&id=10.1%2Fx"}]
    assert too_large(plan, 599, "")["transfer"][0]["url"] is None  # type: ignore[index]
    assert transfer_url("", "p", "/f") is None

"""The catalogue's one index set, on the real SecantusDB: created in full, and idempotent.

Metadata conditions name open-ended keys (``scientificMetadata.<key>.valueSI``); the index
that serves them on MongoDB is a wildcard index, which SecantusDB accepts without error but
builds on the literal path (never used by a query, a key on every write). So the set creates
it only where the server builds wildcard indexes, and these tests check both sides: the real
SecantusDB gets the portable set only, and a database that answers ``buildInfo`` as MongoDB 7.0
does (the same real SecantusDB underneath) is given the wildcard index too, once.
"""

from __future__ import annotations

from typing import Any

import pytest

from scizoo.core import (
    DATASET_COLLECTION,
    INDEXES,
    TTL_INDEXES,
    UNIQUE_INDEXES,
    WILDCARD_INDEXES,
    ensure_indexes,
    wildcard_supported,
)

pytestmark = pytest.mark.system

#: Every collection the set gives an index.
_COLLECTIONS = sorted(set(INDEXES) | set(UNIQUE_INDEXES) | set(TTL_INDEXES) | set(WILDCARD_INDEXES))


def _keys(db: Any) -> dict[str, list[tuple[tuple[str, int], ...]]]:
    """Every collection's index keys as created (``_id`` aside), in creation-independent order."""
    return {name: sorted(tuple((k, int(v)) for k, v in index["key"].items())
                         for index in db[name].list_indexes() if index["name"] != "_id_")
            for name in _COLLECTIONS}


def _expected(*, wildcard: bool) -> dict[str, list[tuple[tuple[str, int], ...]]]:
    specs: dict[str, list[tuple[tuple[str, int], ...]]] = {}
    for name, indexes in INDEXES.items():
        specs.setdefault(name, []).extend(tuple(keys) for keys in indexes)
    for name, keys in UNIQUE_INDEXES.items():
        specs.setdefault(name, []).append(tuple(keys))
    for name, field in TTL_INDEXES.items():
        specs.setdefault(name, []).append(((field, 1),))
    for name, indexes in WILDCARD_INDEXES.items():
        specs.setdefault(name, []).extend(tuple(keys) for keys in indexes if wildcard)
    return {name: sorted(specs.get(name, [])) for name in _COLLECTIONS}


class _AnswersAsMongoDB:
    """The real database, whose ``buildInfo`` answers as MongoDB 7.0 does (everything else is
    the real SecantusDB's): what ``ensure_indexes`` asks of a production MongoDB."""

    def __init__(self, db: Any) -> None:
        self._db = db

    def command(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "buildInfo":
            return {"version": "7.0.14", "versionArray": [7, 0, 14, 0], "ok": 1.0}
        return self._db.command(name, *args, **kwargs)

    def __getitem__(self, name: str) -> Any:
        return self._db[name]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def test_the_index_set_is_created_in_full_and_a_second_start_changes_nothing(db) -> None:
    ensure_indexes(db)
    first = _keys(db)
    assert first == _expected(wildcard=False)
    # The dataset indexes the table's queries start from: the access rule's fields and the sort.
    assert (("proposalIds", 1), ("creationTime", -1)) in first[DATASET_COLLECTION]
    assert (("ownerGroup", 1), ("creationTime", -1)) in first[DATASET_COLLECTION]
    names = {n: sorted(i["name"] for i in db[n].list_indexes()) for n in first}
    ensure_indexes(db)  # a second service's start, or a restart
    assert _keys(db) == first
    assert {n: sorted(i["name"] for i in db[n].list_indexes()) for n in first} == names


def test_secantusdb_gets_no_wildcard_index_it_could_not_use(db) -> None:
    info = db.command("buildInfo")
    assert "secantusVersion" in info and info["versionArray"][:2] >= [4, 2]  # it answers as a MongoDB would
    assert not wildcard_supported(info)
    ensure_indexes(db)
    assert not any("$**" in key for index in db[DATASET_COLLECTION].list_indexes() for key in index["key"])


def test_a_server_that_builds_wildcard_indexes_gets_the_metadata_index_once(db) -> None:
    as_mongodb = _AnswersAsMongoDB(db)
    ensure_indexes(as_mongodb)
    assert _keys(db) == _expected(wildcard=True)
    assert (("scientificMetadata.$**", 1),) in _keys(db)[DATASET_COLLECTION]
    names = sorted(i["name"] for i in db[DATASET_COLLECTION].list_indexes())
    ensure_indexes(as_mongodb)
    assert sorted(i["name"] for i in db[DATASET_COLLECTION].list_indexes()) == names


@pytest.mark.parametrize(("build_info", "builds"), [
    ({"version": "4.0.28", "versionArray": [4, 0, 28, 0]}, False),
    ({"version": "4.2.0", "versionArray": [4, 2, 0, 0]}, True),
    ({"version": "7.0.14", "versionArray": [7, 0, 14, 0]}, True),
    ({"version": "8.0.4", "versionArray": [8, 0, 4, 0]}, True),
    ({"version": "8.2.11", "versionArray": [8, 2, 11, 0], "secantusVersion": "0.7.0b3"}, False),
    ({}, False),
])
def test_wildcard_indexes_are_asked_of_mongodb_4_2_and_later_only(build_info: dict[str, Any], builds: bool) -> None:
    assert wildcard_supported(build_info) is builds

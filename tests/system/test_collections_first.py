"""The catalogue's collections exist before any service writes: no write creates one.

SecantusDB, the embedded store of the demo and the tests, deadlocks when createIndexes creates a
collection that an insert is creating at the same moment: the insert's transaction holds the new
collection's catalogue row and waits for the store's lock, which createIndexes holds while it
waits for that row. Every thread of the server then waits for ever (a CI run stood still for 75
minutes in tests/system/test_scan_api.py: the scan table's start-up build against a rating's
first insert). A collection made ahead (scizoo.core.ensure_collections) is never made by a write.
"""

from __future__ import annotations

import random
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pymongo import MongoClient

from scizoo.core import INDEXED_COLLECTIONS, ensure_collection_indexes, ensure_collections
from scizoo.testing import EmbeddedMongo

pytestmark = pytest.mark.system


def test_ensure_collections_makes_the_missing_and_leaves_the_rest(db) -> None:
    db["ScanlogRating"].insert_one({"kept": True})
    ensure_collections(db, ["ScanlogRating", "ScanlogComment", "ScanlogComment"])
    assert {"ScanlogRating", "ScanlogComment"} <= set(db.list_collection_names())
    assert db["ScanlogRating"].find_one({}, {"_id": 0}) == {"kept": True}
    ensure_collections(db, ["ScanlogRating", "ScanlogComment"])  # again: nothing to do, no error


class _ListedBeforeAnotherServiceMadeThem:
    """The real database as one service saw it: listed just before another service created every
    collection (the server's own NamespaceExists answers the create that follows)."""

    def __init__(self, db: Any) -> None:
        self._db = db

    def list_collection_names(self, **_: Any) -> list[str]:
        return []

    def command(self, *args: Any, **kwargs: Any) -> Any:
        return self._db.command(*args, **kwargs)


def test_a_service_that_finds_another_made_a_collection_first_goes_on(db) -> None:
    """SecantusDB answers a create of a collection that exists with ok; servers that answer
    NamespaceExists instead (older MongoDB) are tests/unit/test_ensure_collections.py's."""
    ensure_collections(db, INDEXED_COLLECTIONS)  # the other service
    ensure_collections(_ListedBeforeAnotherServiceMadeThem(db), INDEXED_COLLECTIONS)
    assert set(INDEXED_COLLECTIONS) <= set(db.list_collection_names())


@pytest.mark.parametrize("service", ["scanlog", "scidog"])
def test_a_web_service_serves_once_the_catalogues_collections_exist(mongo, db, service: str) -> None:
    """So a first request that writes (a rating, a view, a configuration) never creates a
    collection while the start-up build creates its indexes."""
    if service == "scanlog":
        from scanlog_api import ScanlogSettings, create_app

        app = create_app(ScanlogSettings(mongo_uri=mongo.uri, database=db.name))
    else:
        from scidog import ScidogSettings
        from scidog import create_app as create_scidog

        app = create_scidog(ScidogSettings(mongo_uri=mongo.uri, database=db.name, use_tango_database=False))
    with TestClient(app):
        missing = set(INDEXED_COLLECTIONS) - set(db.list_collection_names())
        assert not missing, f"{service} served before it made {sorted(missing)}"


def test_index_builds_beside_first_writes_stand_still_never_with_the_collections_made_ahead(tmp_path: Path) -> None:
    """Index builds and first inserts on the same new collections, from three clients at once,
    on a store of its own (a deadlocked one would stop every later test). Without the collections
    made ahead (these rounds without the ``ensure_collections`` line) the store stood still on
    each of three tries, within 15 rounds; with them it goes through."""
    names = ["ScanlogRating", "ScanlogComment", "Attachment", "quarantine", "ScizooReductionJob", "ScanlogCart"]
    errors: list[BaseException] = []

    def rounds(uri: str) -> None:
        # A socket timeout turns a store that stands still into a failure instead of a hung suite.
        client: MongoClient = MongoClient(uri, socketTimeoutMS=30_000)
        try:
            for _ in range(15):
                db = client[f"race_{uuid.uuid4().hex[:8]}"]
                ensure_collections(db, names)
                build = threading.Thread(target=ensure_collection_indexes, args=(db, names))
                build.start()
                for name in random.sample(names, len(names)):
                    db[name].insert_many([{"datasetId": str(i), "at": i} for i in range(5)])
                build.join(60)
                assert not build.is_alive(), "an index build stood still"
                client.drop_database(db.name)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)
        finally:
            client.close()

    with EmbeddedMongo(tmp_path / "store") as store:
        workers = [threading.Thread(target=rounds, args=(store.uri,)) for _ in range(3)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(180)
        assert not any(w.is_alive() for w in workers), "the store stood still"
    assert not errors, errors

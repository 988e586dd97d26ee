"""Saved views over SecantusDB (the real MongoDB-protocol store, the catalogue's indexes built as
in production): the same scenario as over the in-memory store (tests/views_cases.py)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from scanlog_api import ScanlogSettings, create_app
from scizoo.core import PROPOSAL_COLLECTION, VIEW_COLLECTION
from tests.unit.test_views_api import TOKENS
from tests.views_cases import ALICE, PROPOSAL_GROUPS, check_views, view


def test_views_follow_their_rule_in_the_catalogue(mongo, db) -> None:
    db[PROPOSAL_COLLECTION].insert_many([{"_id": p, "ownerGroup": g, "accessGroups": []}
                                         for p, g in PROPOSAL_GROUPS.items()])
    app = create_app(ScanlogSettings(tokens=TOKENS, mongo_uri=mongo.uri, database=db.name))
    with TestClient(app) as client:
        app.state.indexes_ready.wait(60)
        check_views(client)
        # Stored as the strict model writes it, and the unique index is the catalogue's.
        made = client.post("/api/views", json=view("stored", sharedWith="PA"), headers=ALICE).json()
    doc = db[VIEW_COLLECTION].find_one({"_id": made["id"]})
    assert (doc["owner"], doc["sharedGroup"], doc["schema_version"]) == ("alice", "A", 1)
    unique = [i for i in db[VIEW_COLLECTION].list_indexes() if i.get("unique")]
    assert [list(i["key"]) for i in unique] == [["owner", "name"]]

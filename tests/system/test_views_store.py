"""Saved views over SecantusDB (the real MongoDB-protocol store, the catalogue's indexes built as
in production): the same scenario as over the in-memory store (tests/views_cases.py)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from scanlog_api import ScanlogSettings, create_app
from scizoo.core import PROPOSAL_COLLECTION, VIEW_COLLECTION, VIEW_DEFAULT_COLLECTION
from tests.unit.test_views_api import TOKENS
from tests.views_cases import ALICE, ANNA, PROPOSAL_GROUPS, check_default, check_views, view


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


def _app(mongo, db):
    db[PROPOSAL_COLLECTION].insert_many([{"_id": p, "ownerGroup": g, "accessGroups": []}
                                         for p, g in PROPOSAL_GROUPS.items()])
    return create_app(ScanlogSettings(tokens=TOKENS, mongo_uri=mongo.uri, database=db.name))


def test_a_users_default_view_in_the_catalogue(mongo, db) -> None:
    app = _app(mongo, db)
    with TestClient(app) as client:
        app.state.indexes_ready.wait(60)
        check_default(client)
        # Kept as one pointer per user, by the user's name.
        mine = client.post("/api/views", json=view("kept"), headers=ALICE).json()
        assert client.put("/api/views/default", json={"id": mine["id"]}, headers=ALICE).status_code == 200
    assert db[VIEW_DEFAULT_COLLECTION].find_one({"_id": "alice"})["view"] == mine["id"]


def test_saves_of_a_default_at_once_leave_one(mongo, db) -> None:
    """Sixteen saves of a default at once, over eight views (alice's and one shared with her):
    exactly one is her default after, and it is one of those asked for."""
    app = _app(mongo, db)
    with TestClient(app) as client:
        app.state.indexes_ready.wait(60)
        ids = [client.post("/api/views", json=view(f"v{n}"), headers=ALICE).json()["id"] for n in range(7)]
        ids.append(client.post("/api/views", json=view("annas", sharedWith="PA"), headers=ANNA).json()["id"])
        for _ in range(3):
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda n: client.put("/api/views/default", json={"id": ids[n % 8]},
                                                            headers=ALICE).status_code, range(16)))
            assert answers == [200] * 16
            listed = [v["id"] for v in client.get("/api/views", headers=ALICE).json()["data"] if v["default"]]
            chosen = client.get("/api/views/default", headers=ALICE).json()
            assert len(listed) == 1 and listed == [chosen["id"]] and chosen["id"] in ids, (listed, chosen)
            assert db[VIEW_DEFAULT_COLLECTION].count_documents({}) == 1
            client.delete("/api/views/default", headers=ALICE)

"""Saved views' behaviour through the API, as one scenario: run against the in-memory store
(tests/unit/test_views_api.py) and against SecantusDB (tests/system/test_views_store.py), so the
fake answers as the real store does.

The world: proposal PA owned by group A, PB by group B; alice and anna are in A, bob in B,
root is an admin. Tokens are the callers' headers.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from scanlog_api._conditions import MAX_CONDITIONS
from scanlog_api._table import MAX_COLUMNS
from scanlog_api._views import MAX_VIEWS

ALICE = {"Authorization": "Bearer ta"}
ANNA = {"Authorization": "Bearer ta2"}
BOB = {"Authorization": "Bearer tb"}
ROOT = {"Authorization": "Bearer tr"}
PROPOSAL_GROUPS = {"PA": "A", "PB": "B"}


def view(name: str = "cold", **changes: Any) -> dict[str, Any]:
    return {"name": name, "columns": ["scan_id", "title", "meta:photon_energy"],
            "where": ["photon_energy:between:8:10:keV", "sample_temperature:lt:20:K"],
            "filters": {"proposal": "PA", "beamline": "bl1", "range": "24", "q": "ni", "minRating": "1.5"},
            "sort": {"key": "meta:photon_energy", "order": "asc"}, **changes}


def _names(client: TestClient, headers: dict[str, str]) -> list[tuple[str, bool]]:
    answer = client.get("/api/views", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["count"] == len(body["data"])
    return [(v["name"], v["mine"]) for v in body["data"]]


def check_views(client: TestClient) -> None:
    """Save, list, share, change, delete: who may, and what each refusal says."""
    # Signed in only, and nothing saved yet.
    assert client.get("/api/views").status_code == 401
    assert client.post("/api/views", json=view()).status_code == 401
    assert _names(client, ALICE) == []

    made = client.post("/api/views", json=view(), headers=ALICE)
    assert made.status_code == 201, made.text
    saved = made.json()
    assert {k: saved[k] for k in ("name", "columns", "where", "filters", "sort", "sharedWith", "owner", "mine")} == {
        **{k: v for k, v in view().items()}, "filters": {**view()["filters"], "since": "", "until": ""},
        "sharedWith": None, "owner": "alice", "mine": True}
    vid = saved["id"]
    # Back as saved, from another request (another computer: only the token is the same).
    assert client.get(f"/api/views/{vid}", headers=ALICE).json()["where"] == view()["where"]

    # Private: another member of A does not see it; neither exists for them (404, never 403).
    assert _names(client, ANNA) == []
    assert client.get(f"/api/views/{vid}", headers=ANNA).status_code == 404
    assert client.put(f"/api/views/{vid}", json=view(), headers=ANNA).status_code == 404
    assert client.delete(f"/api/views/{vid}", headers=BOB).status_code == 404
    assert client.get("/api/views/nothing-here", headers=ALICE).status_code == 404

    # A name once per user (another user may use it).
    taken = client.post("/api/views", json=view(), headers=ALICE)
    assert taken.status_code == 409 and "cold" in taken.json()["detail"]
    assert client.post("/api/views", json=view(), headers=BOB).status_code == 201

    # Shared with A's proposal: A's members and admins read it; B's do not; only alice changes it.
    shared = client.put(f"/api/views/{vid}", json=view(sharedWith="PA"), headers=ALICE)
    assert shared.status_code == 200 and shared.json()["sharedWith"] == "PA", shared.text
    assert _names(client, ANNA) == [("cold", False)]
    assert client.get(f"/api/views/{vid}", headers=ANNA).json()["owner"] == "alice"
    assert ("cold", False) in _names(client, ROOT)
    assert _names(client, BOB) == [("cold", True)]  # bob's own only
    assert client.get(f"/api/views/{vid}", headers=BOB).status_code == 404
    refused = client.put(f"/api/views/{vid}", json=view(name="mine now"), headers=ANNA)
    assert refused.status_code == 403 and "alice" in refused.json()["detail"]
    assert client.delete(f"/api/views/{vid}", headers=ANNA).status_code == 403
    assert client.delete(f"/api/views/{vid}", headers=ROOT).status_code == 403
    assert client.get(f"/api/views/{vid}", headers=ALICE).json()["name"] == "cold"

    # Sharing only with a proposal of one's groups; unknown and foreign proposals answer alike.
    foreign = client.post("/api/views", json=view("x", sharedWith="PB"), headers=ALICE)
    unknown = client.post("/api/views", json=view("x", sharedWith="P-none"), headers=ALICE)
    assert foreign.status_code == unknown.status_code == 422
    assert foreign.json()["detail"].replace("PB", "?") == unknown.json()["detail"].replace("P-none", "?")
    assert client.post("/api/views", json=view("x", sharedWith="PB"), headers=ROOT).status_code == 201

    # Every part is checked as the table's requests are: a stored view can always be applied.
    for bad in (view(name=""), view(name="a" * 81), view(name="two\nlines"),
                view(columns=[]), view(columns=["meta:$where"]), view(columns=["scan_id", "scan_id"]),
                view(columns=[f"meta:k{i}" for i in range(MAX_COLUMNS + 1)]),
                view(where=["photon_energy:near:8"]), view(where=["a:eq:1"] * (MAX_CONDITIONS + 1)),
                view(sort={"key": "meta:a.b", "order": "asc"}), view(sort={"key": "title", "order": "up"}),
                view(filters={"range": "-1"}), view(filters={"minRating": "4"}), view(filters={"since": "yesterday"}),
                view(filters={"q": "x" * 201}), view(extra=1)):
        answer = client.post("/api/views", json=bad, headers=ALICE)
        assert answer.status_code == 422, (bad, answer.text)
    named = client.post("/api/views", json=view("bad", where=["photon_energy:near:8"]), headers=ALICE)
    assert "near" in named.text

    # Renaming onto another of one's own names is a conflict; deleting frees the name.
    other = client.post("/api/views", json=view("warm"), headers=ALICE).json()["id"]
    assert client.put(f"/api/views/{other}", json=view("cold"), headers=ALICE).status_code == 409
    assert client.delete(f"/api/views/{other}", headers=ALICE).status_code == 204
    assert client.get(f"/api/views/{other}", headers=ALICE).status_code == 404
    assert client.delete(f"/api/views/{vid}", headers=ALICE).status_code == 204
    assert _names(client, ANNA) == []

    # Bounded per user.
    for n in range(MAX_VIEWS):
        assert client.post("/api/views", json=view(f"v{n}"), headers=ANNA).status_code == 201
    full = client.post("/api/views", json=view("one more"), headers=ANNA)
    assert full.status_code == 409 and str(MAX_VIEWS) in full.json()["detail"]


def _default(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    answer = client.get("/api/views/default", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _defaults_listed(client: TestClient, headers: dict[str, str]) -> list[str]:
    return [v["name"] for v in client.get("/api/views", headers=headers).json()["data"] if v["default"]]


def check_default(client: TestClient) -> None:
    """A user's default view, kept on the server: set, replaced, cleared; one a user may read
    only; one since deleted or unshared is said, never a failure. (A fresh store.)"""
    assert client.get("/api/views/default").status_code == 401
    assert client.put("/api/views/default", json={"id": "x"}).status_code == 401
    assert _default(client, ALICE) == {"id": None, "view": None, "problem": None}

    cold = client.post("/api/views", json=view("cold"), headers=ALICE).json()
    warm = client.post("/api/views", json=view("warm"), headers=ALICE).json()
    assert not cold["default"] and not warm["default"]
    chosen = client.put("/api/views/default", json={"id": cold["id"]}, headers=ALICE)
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["id"] == cold["id"] and chosen.json()["view"]["where"] == view()["where"]
    assert chosen.json()["view"]["default"] is True and chosen.json()["problem"] is None
    assert _defaults_listed(client, ALICE) == ["cold"]
    assert client.get(f"/api/views/{cold['id']}", headers=ALICE).json()["default"] is True
    # Another default replaces it: one at most.
    assert client.put("/api/views/default", json={"id": warm["id"]}, headers=ALICE).status_code == 200
    assert _defaults_listed(client, ALICE) == ["warm"] and _default(client, ALICE)["view"]["name"] == "warm"
    # Each user's own: alice's choice is not anna's.
    assert _default(client, ANNA)["id"] is None

    # Only a view one may read; another's private view is not found, as an unknown one.
    private = client.put("/api/views/default", json={"id": cold["id"]}, headers=ANNA)
    unknown = client.put("/api/views/default", json={"id": "nothing-here"}, headers=ANNA)
    assert private.status_code == unknown.status_code == 404
    assert private.json()["detail"].replace(cold["id"], "?") == unknown.json()["detail"].replace("nothing-here", "?")
    for bad in ({}, {"id": ""}, {"id": "x" * 65}, {"id": cold["id"], "extra": 1}):
        assert client.put("/api/views/default", json=bad, headers=ANNA).status_code == 422, bad
    assert _default(client, ANNA)["id"] is None

    # Shared with A: anna may make alice's view her default; bob (B) may not.
    assert client.put(f"/api/views/{cold['id']}", json=view("cold", sharedWith="PA"), headers=ALICE).status_code == 200
    assert client.put("/api/views/default", json={"id": cold["id"]}, headers=ANNA).status_code == 200
    assert _defaults_listed(client, ANNA) == ["cold"]
    assert client.put("/api/views/default", json={"id": cold["id"]}, headers=BOB).status_code == 404
    # Unshared: anna's default is said to be gone (no failure, her list still answers); shared
    # again, it is back (the choice is kept).
    assert client.put(f"/api/views/{cold['id']}", json=view("cold"), headers=ALICE).status_code == 200
    gone = _default(client, ANNA)
    assert gone["id"] == cold["id"] and gone["view"] is None and "no longer shared" in gone["problem"]
    assert _defaults_listed(client, ANNA) == []
    assert client.put(f"/api/views/{cold['id']}", json=view("cold", sharedWith="PA"), headers=ALICE).status_code == 200
    assert _default(client, ANNA)["view"]["name"] == "cold"
    # Deleted by its owner: anna's is said to be gone; alice's own default (warm) is untouched.
    assert client.delete(f"/api/views/{cold['id']}", headers=ALICE).status_code == 204
    deleted = _default(client, ANNA)
    assert deleted["view"] is None and "deleted" in deleted["problem"]
    assert _default(client, ALICE)["view"]["name"] == "warm"
    # Deleting one's own default clears it: the browser's layout opens again.
    assert client.delete(f"/api/views/{warm['id']}", headers=ALICE).status_code == 204
    assert _default(client, ALICE) == {"id": None, "view": None, "problem": None}

    # Cleared on request; the view itself is kept.
    again = client.post("/api/views", json=view("again"), headers=ANNA).json()
    assert client.put("/api/views/default", json={"id": again["id"]}, headers=ANNA).status_code == 200
    assert client.delete("/api/views/default", headers=ANNA).status_code == 204
    assert _default(client, ANNA) == {"id": None, "view": None, "problem": None}
    assert client.get(f"/api/views/{again['id']}", headers=ANNA).json()["default"] is False
    assert client.delete("/api/views/default", headers=ANNA).status_code == 204  # none: still fine

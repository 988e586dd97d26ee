"""The scan table's routes and rules over the in-memory store (scanlog_api.testing): no services, seconds.

The same app as in production (create_app, its dependencies, middleware and error
handling), built over FakeScanStore; tests/system/test_store_contract.py holds the fake
to the real store's behaviour.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from scanlog_api import ScanlogSettings, TokenUser, create_app
from scanlog_api.testing import FakeReductions, FakeScanStore

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ALICE = {"Authorization": "Bearer ta"}
ADMIN = {"Authorization": "Bearer tr"}
ANNA = {"Authorization": "Bearer ta2"}
BOB = {"Authorization": "Bearer tb"}
CAROL = {"Authorization": "Bearer tc"}
SAM = {"Authorization": "Bearer ts"}
ROOT = {"Authorization": "Bearer tr"}
TOKENS = {"ta": TokenUser(user="alice", groups=["A"]), "ta2": TokenUser(user="anna", groups=["A"]),
          "tb": TokenUser(user="bob", groups=["B"]), "tc": TokenUser(user="carol", groups=["C"]),
          "ts": TokenUser(user="sam", groups=["bl1-staff"]), "tr": TokenUser(user="root", admin=True)}


def dataset(n: int, owner: str, *, shared: list[str] | None = None, published: bool = False, title: str = "",
            energy: float = 100.0) -> dict:
    pid = f"20.500/{n}"
    return {"_id": pid, "pid": pid, "ownerGroup": owner, "accessGroups": shared or [], "isPublished": published,
            "proposalIds": [f"P{owner}"], "instrumentIds": ["bl1"], "creationTime": T0 + timedelta(minutes=n),
            "startTime": T0 + timedelta(minutes=n), "description": title or f"scan {n}", "numberOfFiles": 1,
            "scientificMetadata": {"scan_id": {"value": n}, "photon_energy": {"value": energy, "unit": "eV"}}}


@pytest.fixture()
def store() -> FakeScanStore:
    return FakeScanStore(
        [dataset(1, "A"), dataset(2, "A", title='=HYPERLINK("http://evil")'), dataset(3, "B"),
         dataset(4, "B", shared=["C"]), dataset(5, "B", published=True, energy=250.0)],
        proposals=[{"_id": "PA", "title": "Alice's", "ownerGroup": "A", "accessGroups": []},
                   {"_id": "PB", "title": "Bob's", "ownerGroup": "B", "accessGroups": []}],
        staff_comment_groups={"bl1": "bl1-staff"})


@pytest.fixture()
def client(store):
    jobs = FakeReductions(store, [{"datasetId": "20.500/1", "id": "j1", "rule": "plot", "state": "succeeded"}])
    app = create_app(ScanlogSettings(tokens=TOKENS, staff_comment_groups={"bl1": "bl1-staff"}),
                     store=store, reductions=jobs)
    with TestClient(app) as c:
        yield c


def _ids(page: dict) -> list[int]:
    return [int(r["scan_id"]) for r in page["data"]]


def test_each_reader_sees_what_scicats_rule_lets_them_see(client) -> None:
    for headers, expected in (({}, [5]), (ALICE, [5, 2, 1]), (CAROL, [5, 4]), (BOB, [5, 4, 3]),
                              (ROOT, [5, 4, 3, 2, 1])):
        page = client.get("/api/scans", headers=headers).json()
        assert (_ids(page), page["count"]) == (expected, len(expected)), headers
    # A scan one may not read is not found, exactly as one that does not exist.
    hidden, missing = client.get("/api/scans/20.500/3", headers=ALICE), client.get("/api/scans/20.500/9", headers=ALICE)
    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert hidden.json()["detail"].replace("3", "9") == missing.json()["detail"]


def test_pages_sorting_filters_and_free_text(client) -> None:
    page = client.get("/api/scans", headers=ROOT, params={"sort": "meta:photon_energy", "order": "desc",
                                                          "limit": 2, "skip": 0}).json()
    assert _ids(page)[0] == 5 and page["count"] == 5
    assert _ids(client.get("/api/scans", headers=ROOT, params={"limit": 2, "skip": 2}).json()) == [3, 2]
    assert _ids(client.get("/api/scans", headers=ROOT, params={"proposal": "PA"}).json()) == [2, 1]
    hits = client.get("/api/scans", headers=ROOT, params={"q": "hyperlink"}).json()
    assert (_ids(hits), hits["count"]) == ([2], 1)
    since = (T0 + timedelta(minutes=4)).isoformat()
    assert _ids(client.get("/api/scans", headers=ROOT, params={"since": since}).json()) == [5, 4]
    assert client.get("/api/scans", params={"sort": "nonsense"}).status_code == 422
    assert client.get("/api/scans/keys", headers=ALICE).json() == {"photon_energy": "eV", "scan_id": ""}


def test_the_reduction_state_of_each_row_and_the_detail(client) -> None:
    rows = {r["scan_id"]: r for r in client.get("/api/scans", headers=ALICE).json()["data"]}
    assert (rows["1"]["reduction"], rows["2"]["reduction"]) == ("succeeded", None)
    assert [j["id"] for j in client.get("/api/scans/20.500/1", headers=ALICE).json()["reductions"]] == ["j1"]
    assert [j["id"] for j in client.get("/api/reductions", headers=ALICE).json()] == ["j1"]
    assert client.get("/api/reductions", headers=BOB).json() == []  # not bob's scan


def test_reading_is_not_writing(client, store) -> None:
    assert client.put("/api/scans/20.500/4/rating", json={"value": 2}, headers=CAROL).status_code == 403  # shared
    assert client.put("/api/scans/20.500/5/rating", json={"value": 2}, headers=ALICE).status_code == 403  # published
    assert client.put("/api/scans/20.500/1/rating", json={"value": 2}).status_code == 401
    assert client.put("/api/scans/20.500/1/rating", json={"value": 1.2}, headers=ALICE).status_code == 422
    for odd in ("NaN", "Infinity", "1e309"):  # valid JSON to Python's parser; int(value * 2) raised: a 500
        sent = client.put("/api/scans/20.500/1/rating", content=f'{{"value": {odd}}}',
                          headers={**ALICE, "Content-Type": "application/json"})
        assert sent.status_code == 422, (odd, sent.text)
    assert client.put("/api/scans/20.500/3/rating", json={"value": 2}, headers=ALICE).status_code == 404
    assert "dataQualityMetrics" not in store.datasets["20.500/4"]  # nothing refused was written


def test_ratings_average_each_users_latest(client, store) -> None:
    for headers, value in ((ALICE, 3), (ANNA, 1), (ALICE, 2)):
        assert client.put("/api/scans/20.500/1/rating", json={"value": value}, headers=headers).status_code == 200
    detail = client.get("/api/scans/20.500/1", headers=ANNA).json()
    assert detail["ratingSummary"] == {"mine": 1, "raters": 2, "average": 1.5}
    assert store.datasets["20.500/1"]["dataQualityMetrics"] == 1.5
    client.put("/api/scans/20.500/1/rating", json={"value": None}, headers=ANNA)
    assert client.get("/api/scans", headers=ALICE, params={"min_rating": 2}).json()["count"] == 1


def test_comments_by_writers_and_staff_changed_only_by_their_author(client) -> None:
    made = client.post("/api/scans/20.500/1/comments", json={"text": "beam dump at 8"}, headers=ALICE)
    assert made.status_code == 201
    comment = made.json()["id"]
    assert client.patch(f"/api/comments/{comment}", json={"text": "mine now"}, headers=ANNA).status_code == 403
    assert client.patch(f"/api/comments/{comment}", json={"text": "dump at 9"}, headers=ALICE).json()["text"] == "dump at 9"
    # The beamline's staff comment where the facility allows it; a reader through accessGroups does not.
    assert client.post("/api/scans/20.500/1/comments", json={"text": "checked"}, headers=SAM).status_code == 404
    assert client.post("/api/scans/20.500/5/comments", json={"text": "checked"}, headers=SAM).status_code == 201
    assert client.post("/api/scans/20.500/4/comments", json={"text": "hi"}, headers=CAROL).status_code == 403
    assert client.delete("/api/comments/nothing", headers=ALICE).status_code == 404
    assert client.delete(f"/api/comments/{comment}", headers=ALICE).status_code == 204
    assert client.get("/api/scans/20.500/1", headers=ALICE).json()["comments"] == []


def test_the_csv_export_holds_the_columns_asked_for_and_no_formula(client) -> None:
    got = client.get("/api/scans.csv", headers=ALICE, params={"columns": "scan_id,title,meta:photon_energy"})
    assert got.status_code == 200
    rows = list(csv.reader(io.StringIO(got.text)))
    assert rows[0] == ["Scan", "Title", "photon_energy [eV]"]
    assert rows[1:] == [["5", "scan 5", "250.0"], ["2", "'=HYPERLINK(\"http://evil\")", "100.0"],
                        ["1", "scan 1", "100.0"]]
    assert client.get("/api/scans.csv", params={"columns": "scan_id,meta:a.b"}).status_code == 422


def test_an_export_over_the_bound_is_refused_before_a_line_is_sent() -> None:
    store = FakeScanStore([dataset(1, "A"), dataset(2, "A")], max_export_rows=1)  # the store holds the bound
    app = create_app(ScanlogSettings(tokens=TOKENS), store=store, reductions=FakeReductions(store))
    with TestClient(app) as client:
        refused = client.get("/api/scans.csv", headers=ROOT)
        assert refused.status_code == 422 and "at most 1 scans" in refused.json()["detail"]
        assert client.get("/api/scans.csv", headers=ROOT, params={"pids": "20.500/1"}).status_code == 200


def test_the_pickers_list_what_the_reader_may_see(client) -> None:
    assert client.get("/api/proposals", headers=ALICE).json() == [{"proposalId": "PB", "title": "Bob's"},
                                                                  {"proposalId": "PA", "title": "Alice's"}]
    assert client.get("/api/proposals").json() == [{"proposalId": "PB", "title": "Bob's"}]  # a published scan's
    assert client.get("/api/beamlines").json() == ["bl1"]


def test_what_needs_the_catalogue_itself_says_so(client) -> None:
    """Publishing, OAI-PMH and the live feed are not the in-memory store's: a clear answer, not a crash."""
    for answer in (client.get("/api/cart", headers=ALICE), client.get("/oai", params={"verb": "Identify"}),
                   client.get("/api/stream", headers=ALICE), client.post("/api/elog", headers=ALICE, json={
                       "title": "t", "pids": ["20.500/1"], "columns": ["scan_id"]})):
        assert answer.status_code == 501, answer.text
        assert "not" in answer.json()["detail"] or "no " in answer.json()["detail"]


def test_reduction_rules_are_changed_by_admins_from_the_revision_read(client) -> None:
    change = {"revision": 0, "rules": [{"name": "plot", "pipeline": "plot_first_file"}]}
    assert client.put("/api/reduction-rules", json=change, headers=ALICE).status_code == 403
    assert client.put("/api/reduction-rules", json=change, headers=ROOT).json()["revision"] == 1
    assert client.put("/api/reduction-rules", json=change, headers=ROOT).status_code == 409


def test_conditions_read_a_bounded_selection(client, monkeypatch) -> None:
    """Every request's work is bounded: conditions narrow a selection of at most MAX_CONDITION_SCAN."""
    import scanlog_api._deps as deps

    monkeypatch.setattr(deps, "MAX_CONDITION_SCAN", 3)  # the fake holds 5 scans; alice reads 3, an admin 5
    assert client.get("/api/scans?where=photon_energy:gt:50:eV", headers=ALICE).status_code == 200
    refused = client.get("/api/scans?where=photon_energy:gt:50:eV", headers=ADMIN)
    assert refused.status_code == 422 and "narrow the selection" in refused.json()["detail"]
    assert client.get("/api/scans?where=photon_energy:gt:50:eV&proposal=PA", headers=ADMIN).status_code == 200

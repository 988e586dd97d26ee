"""The scan API on the real store: SciCat's access rules on every read, auth on every write."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from scanlog_api import ScanlogServer, ScanlogSettings, TokenUser, create_app
from scizoo.core import DATASET_COLLECTION, CatalogueSettings, Proposal, RecordedEntry, ScanMetadata, build_dataset
from tests.helpers import make_scan

pytestmark = pytest.mark.system

A = {"Authorization": "Bearer ta"}
A2 = {"Authorization": "Bearer ta2"}
B = {"Authorization": "Bearer tb"}


def _dataset(n: int, proposal: str, title: str | None = None, energy: object = 100.0) -> dict:
    scan = make_scan(n)
    if title:
        scan = scan.model_copy(update={"title": title})
    message = ScanMetadata(
        message_id=f"api-{n}", beamline="sim", source="manual", proposal_id=proposal, data_path="/data",
        scan=scan, produced_at=scan.start,
        entries=[RecordedEntry(name="photon_energy", device="d/e/1", attribute="energy", value=energy, unit="eV")],
    )
    return build_dataset(message, Proposal(proposalId=proposal), CatalogueSettings()).to_mongo()


@pytest.fixture()
def client(mongo, db):
    db[DATASET_COLLECTION].insert_many([_dataset(1, "A"), _dataset(2, "A", title="=HYPERLINK(\"http://evil\")"),
                                        _dataset(3, "B")])
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, tokens={
        "ta": TokenUser(user="alice", groups=["A"]), "ta2": TokenUser(user="anna", groups=["A"]),
        "tb": TokenUser(user="bob", groups=["B"])})
    with TestClient(create_app(settings)) as c:
        yield c


def _pid(client: TestClient, n: int, headers: dict) -> str:
    return next(r["pid"] for r in client.get("/api/scans", headers=headers).json()["data"] if r["scan_id"] == str(n))


def test_users_see_only_their_proposals_scans(client: TestClient) -> None:
    a = client.get("/api/scans", headers=A).json()
    assert a["count"] == 2 and {s["proposal"] for s in a["data"]} == {"A"}
    assert [s["scan_id"] for s in a["data"]] == ["2", "1"]  # newest first
    assert client.get("/api/scans?proposal=A", headers=B).json() == {"data": [], "count": 0}
    assert client.get("/api/scans").json()["count"] == 0  # anonymous: published only
    assert client.get("/api/scans", headers={"Authorization": "Bearer nope"}).status_code == 401
    page = client.get("/api/scans?limit=1&skip=1", headers=A).json()
    assert page["count"] == 2 and [s["scan_id"] for s in page["data"]] == ["1"]
    b_pid = _pid(client, 3, B)
    assert client.get(f"/api/scans/{b_pid}", headers=A).status_code == 404
    assert client.get(f"/api/scans/{b_pid}", headers=B).json()["scan_id"] == "3"
    rows = list(csv.reader(io.StringIO(client.get("/api/scans.csv?columns=scan_id", headers=A).text)))
    assert rows == [["Scan"], ["2"], ["1"]]
    assert client.put(f"/api/scans/{b_pid}/rating", json={"value": 2}, headers=A).status_code == 404


def test_sort_filter_keys_and_csv(client: TestClient) -> None:
    asc = client.get("/api/scans?sort=scan_id&order=asc", headers=A).json()
    assert [r["scan_id"] for r in asc["data"]] == ["1", "2"]
    assert client.get("/api/scans?q=hyperlink", headers=A).json()["count"] == 1
    assert client.get("/api/scans?q=.*", headers=A).json()["count"] == 0  # text, not a pattern
    assert client.get("/api/scans?q=100.0", headers=A).json()["count"] == 2  # metadata values too
    assert client.get("/api/scans?q=100.0", headers=B).json()["count"] == 1  # ...within what you may read
    searched = client.get("/api/scans.csv?q=hyperlink&columns=scan_id", headers=A).text
    assert list(csv.reader(io.StringIO(searched))) == [["Scan"], ["2"]]
    assert client.get("/api/scans?sort=meta:$where", headers=A).status_code == 422
    assert client.get("/api/scans.csv?columns=scan_id,meta:a.b", headers=A).status_code == 422
    keys = client.get("/api/scans/keys?proposal=A", headers=A).json()
    assert keys["photon_energy"] == "eV" and "scan_id" in keys
    out = client.get("/api/scans.csv?columns=title,meta:photon_energy,scan_id", headers=A)
    assert out.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(out.text)))
    assert rows[0] == ["Title", "photon_energy [eV]", "Scan"]
    assert rows[1][0] == "'=HYPERLINK(\"http://evil\")"  # neutralised, not a formula
    assert rows[1][1:] == ["100.0", "2"]


def test_rating_comments_and_attachments(client: TestClient, db) -> None:
    pid = _pid(client, 1, A)
    assert client.put(f"/api/scans/{pid}/rating", json={"value": 2.5}).status_code == 401
    assert client.put(f"/api/scans/{pid}/rating", json={"value": 2.25}, headers=A).status_code == 422
    assert client.put(f"/api/scans/{pid}/rating", json={"value": 2.5}, headers=A).status_code == 200
    assert db[DATASET_COLLECTION].find_one({"_id": pid})["dataQualityMetrics"] == 2.5
    assert client.get("/api/scans?min_rating=2", headers=A).json()["count"] == 1
    made = client.post(f"/api/scans/{pid}/comments", json={"text": "beam dump at point 7"}, headers=A).json()
    assert client.patch(f"/api/comments/{made['id']}", json={"text": "mine now"}, headers=A2).status_code == 403
    assert client.delete(f"/api/comments/{made['id']}", headers=A2).status_code == 403
    assert client.patch(f"/api/comments/{made['id']}", json={"text": "beam dump at 8"}, headers=A).status_code == 200
    buf = io.BytesIO()
    Image.new("RGB", (800, 400), "red").save(buf, format="PNG")
    up = client.post(f"/api/scans/{pid}/attachments", headers=A, data={"caption": "sample"},
                     files={"image": ("s.png", buf.getvalue(), "image/png")})
    assert up.status_code == 201 and up.json()["thumbnail"].startswith("data:image/png;base64,")
    bad = client.post(f"/api/scans/{pid}/attachments", headers=A, files={"image": ("x.png", b"nope", "image/png")})
    assert bad.status_code == 422
    detail = client.get(f"/api/scans/{pid}", headers=A2).json()
    assert [(c["author"], c["text"]) for c in detail["comments"]] == [("alice", "beam dump at 8")]
    assert [r["value"] for r in detail["ratings"]] == [2.5]
    assert detail["attachments"][0]["caption"] == "sample"
    assert client.delete(f"/api/comments/{made['id']}", headers=A).status_code == 204


def test_live_stream_sends_only_readable_scans(mongo, db) -> None:
    import httpx

    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name,
                               tokens={"ta": TokenUser(user="alice", groups=["A"])})
    with ScanlogServer(settings, grace_s=1) as server:
        got: list[dict] = []
        with httpx.stream("GET", f"{server.url}/api/stream", headers=A, timeout=20) as response:
            lines = response.iter_lines()
            assert next(lines).startswith("retry:")
            db[DATASET_COLLECTION].insert_one(_dataset(7, "B"))  # not alice's
            db[DATASET_COLLECTION].insert_one(_dataset(8, "A"))
            for line in lines:
                if line.startswith("data:") and line != "data: {}":
                    got.append(json.loads(line[5:]))
                    break
        assert [r["scan_id"] for r in got] == ["8"]


def test_the_flat_branches_select_exactly_scicats_rule_once_each(db) -> None:
    from itertools import product

    from scanlog_api import build_branches, can_read

    docs = [{"_id": f"d{i}", "proposalIds": ["P"], "ownerGroup": owner, "accessGroups": access, "isPublished": pub}
            for i, (owner, access, pub) in enumerate(product(["A", "B"], [[], ["A"], ["B", "C"]], [False, True]))]
    datasets = db[DATASET_COLLECTION]
    datasets.insert_many(docs)
    for user in (None, TokenUser(user="a", groups=["A"]), TokenUser(user="c", groups=["C", "A"]),
                 TokenUser(user="root", admin=True)):
        expected = {d["_id"] for d in docs if can_read(user, d)}
        found = [d["_id"] for b in build_branches(user, proposal="P") for d in datasets.find(b)]
        assert sorted(found) == sorted(expected), user  # same set, and no document twice


def test_reading_is_not_writing(mongo, db) -> None:
    """A reader through accessGroups, or of a published dataset, may not rate, comment or attach."""
    shared = {**_dataset(1, "A"), "accessGroups": ["C"]}
    published = {**_dataset(2, "A"), "isPublished": True}
    db[DATASET_COLLECTION].insert_many([shared, published])
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, staff_comment_groups={"sim": "sim-staff"},
                               tokens={"ta": TokenUser(user="alice", groups=["A"]),
                                       "tc": TokenUser(user="carol", groups=["C"]),
                                       "tb": TokenUser(user="bob", groups=["B"]),
                                       "ts": TokenUser(user="sam", groups=["sim-staff", "C"]),
                                       "tr": TokenUser(user="root", admin=True)})
    png = io.BytesIO()
    Image.new("RGB", (4, 4), "blue").save(png, format="PNG")
    with TestClient(create_app(settings)) as client:
        def writes(pid: str, token: str) -> list[int]:
            auth = {"Authorization": f"Bearer {token}"}
            return [
                client.put(f"/api/scans/{pid}/rating", json={"value": 1}, headers=auth).status_code,
                client.post(f"/api/scans/{pid}/comments", json={"text": "hi"}, headers=auth).status_code,
                client.post(f"/api/scans/{pid}/attachments", headers=auth,
                            files={"image": ("p.png", png.getvalue(), "image/png")}).status_code,
            ]

        for pid, token in ((shared["pid"], "tc"), (published["pid"], "tb"), (published["pid"], "tc")):
            assert client.get(f"/api/scans/{pid}", headers={"Authorization": f"Bearer {token}"}).status_code == 200
            assert writes(pid, token) == [403, 403, 403], (pid, token)
        # Staff of the beamline may comment where the facility allows it, and nothing more.
        assert writes(shared["pid"], "ts") == [403, 201, 403]
        assert writes(shared["pid"], "ta") == [200, 201, 201]  # the ownerGroup
        assert writes(published["pid"], "tr") == [200, 201, 201]  # an admin
        doc = db[DATASET_COLLECTION].find_one({"_id": published["pid"]})
        assert doc["dataQualityMetrics"] == 1 and doc["updatedBy"] == "root"


#: DATASET_LOOKUP_FIELDS.attachments of src/datasets/types/dataset-lookup.ts (the backend fills in ``as``).
V4_ATTACHMENTS_LOOKUP = {"$lookup": {
    "from": "Attachment", "as": "attachments", "let": {"pid": "$pid"},
    "pipeline": [{"$match": {"$expr": {"$anyElementTrue": {"$map": {
        "input": "$relationships", "as": "relationship",
        "in": {"$and": [{"$eq": ["$$relationship.targetId", "$$pid"]},
                        {"$eq": ["$$relationship.targetType", "dataset"]}]}}}}}}]}}


def test_attachments_are_linked_as_scicat_v4_finds_them(mongo, db) -> None:
    """Attachments stored by an older scizoo (``targetIds``, or ``datasetId`` only) are moved at
    start, and with new ones are found by the queries SciCat's backend makes (at the commit
    in test_scicat_shapes.py): v3's ``/datasets/{pid}/attachments`` (attachments.service.ts)
    and v4's ``include=attachments`` lookup (src/datasets/types/dataset-lookup.ts)."""
    from scizoo.core import ATTACHMENT_COLLECTION

    pid = _dataset(1, "A")["pid"]
    db[DATASET_COLLECTION].insert_one(_dataset(1, "A"))
    stored = [{"_id": "old-1", "datasetId": pid, "caption": "from before", "thumbnail": ""},
              {"_id": "old-2", "aid": "old-2", "datasetId": pid, "caption": "targetIds", "thumbnail": "",
               "relationships": [{"targetIds": [pid], "targetType": "dataset", "relationType": "is attached to"}],
               "ownerGroup": "A", "accessGroups": [], "isPublished": False, "createdBy": "alice",
               "updatedBy": "alice"}]
    db[ATTACHMENT_COLLECTION].insert_many(stored)
    db[ATTACHMENT_COLLECTION].create_index("relationships.targetIds")  # as the older scizoo made it
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, tokens={"ta": TokenUser(user="alice", groups=["A"])})
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(buf, format="PNG")
    with TestClient(create_app(settings)) as client:
        assert client.app.state.indexes_ready.wait(30)  # the start moves them in the background
        made = client.post(f"/api/scans/{pid}/attachments", headers=A, files={"image": ("g.png", buf.getvalue())})
        assert made.status_code == 201
        captions = [a["caption"] for a in client.get(f"/api/scans/{pid}", headers=A).json()["attachments"]]
    assert sorted(captions) == ["", "from before", "targetIds"]
    everything = sorted(["old-1", "old-2", made.json()["aid"]])
    # v3: the backend turns {datasetId: pid} into this filter.
    v3 = db[ATTACHMENT_COLLECTION].find({"relationships.targetId": pid, "relationships.targetType": "dataset"})
    assert sorted(a["_id"] for a in v3) == everything
    # v4: the backend's own $lookup stage for include=attachments, run by the store.
    [found] = db[DATASET_COLLECTION].aggregate([{"$match": {"pid": pid}}, V4_ATTACHMENTS_LOOKUP])
    assert sorted(a["_id"] for a in found["attachments"]) == everything
    for doc in db[ATTACHMENT_COLLECTION].find():
        assert "datasetId" not in doc and doc["aid"] == doc["_id"], doc["_id"]
        assert all(set(r) == {"targetId", "targetType", "relationType"} for r in doc["relationships"]), doc["_id"]
    assert "relationships.targetIds_1" not in db[ATTACHMENT_COLLECTION].index_information()


def test_a_users_rating_history_of_a_scan_is_bounded(client: TestClient, db) -> None:
    from scanlog_api._store import RATINGS_KEPT
    from scizoo.core import RATING_COLLECTION

    pid = _pid(client, 1, A)
    for n in range(RATINGS_KEPT + 7):
        assert client.put(f"/api/scans/{pid}/rating", json={"value": 1 + n % 3}, headers=A).status_code == 200
    assert client.put(f"/api/scans/{pid}/rating", json={"value": 2.5}, headers=A2).status_code == 200
    kept = list(db[RATING_COLLECTION].find({"datasetId": pid, "user": "alice"}))
    assert len(kept) == RATINGS_KEPT  # 27 before: one per click, for ever
    last = 1 + (RATINGS_KEPT + 6) % 3
    assert db[DATASET_COLLECTION].find_one({"_id": pid})["dataQualityMetrics"] == (last + 2.5) / 2


def test_the_rating_is_the_average_of_each_users_latest(client: TestClient, db) -> None:
    pid = _pid(client, 1, A)

    def stored() -> float | None:
        return db[DATASET_COLLECTION].find_one({"_id": pid}).get("dataQualityMetrics")

    for headers, value, expected in ((A, 3, 3.0), (A2, 2, 2.5), (A, 1, 1.5),  # alice's latest counts, once
                                     (A, None, 2.0),  # alice clears hers: anna's stands
                                     (A2, None, None)):  # nobody's rating left: unrated
        assert client.put(f"/api/scans/{pid}/rating", json={"value": value}, headers=headers).status_code == 200
        assert stored() == expected, (headers, value)
    assert client.get("/api/scans?min_rating=0.5", headers=A).json()["count"] == 0
    client.put(f"/api/scans/{pid}/rating", json={"value": 2.5}, headers=A2)
    summary = client.get(f"/api/scans/{pid}", headers=A).json()["ratingSummary"]
    assert summary == {"mine": None, "raters": 1, "average": 2.5} and stored() == 2.5

"""The fixity worker's findings shown by the scan table (issue 21), on the real store: its
summaries (ScizooFixity, as scifix writes them) in the table's rows, a scan's detail and the
landing page, each only where the caller may read the scan."""

from __future__ import annotations

from datetime import UTC, datetime
from html import unescape

import pytest
from fastapi.testclient import TestClient

from scanlog_api import ScanlogSettings, TokenUser, create_app
from scizoo.core import DATASET_COLLECTION, FIXITY_COLLECTION
from tests.system.test_scan_api import _dataset

pytestmark = pytest.mark.system
A = {"Authorization": "Bearer ta"}
B = {"Authorization": "Bearer tb"}
CHECKED = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)


def _summary(pid: str, state: str, problems: list[dict]) -> dict:
    """A summary as scifix's Fixity._summarise writes it."""
    return {"_id": pid, "datasetId": pid, "state": state, "algorithm": "blake2b", "files": 3,
            "checksummed": 3 - len(problems), "problems": problems, "problemCount": len(problems),
            "checkedAt": CHECKED}


@pytest.fixture()
def scans(mongo, db) -> dict[str, str]:
    docs = {"ok": _dataset(1, "A"), "flagged": _dataset(2, "A"), "unchecked": _dataset(3, "A"), "theirs": _dataset(4, "B")}
    db[DATASET_COLLECTION].insert_many(list(docs.values()))
    pids = {name: str(d["pid"]) for name, d in docs.items()}
    db[FIXITY_COLLECTION].insert_many([
        _summary(pids["ok"], "ok", []),
        _summary(pids["flagged"], "flagged", [
            {"path": "/data/scan2.h5", "kind": "changed", "reason": "changed since capture: size 10 -> 12"},
            {"path": "/data/scan2.log", "kind": "gone", "reason": "/data/scan2.log does not exist"}]),
        _summary(pids["theirs"], "mismatch", [{"path": "/data/b.h5", "kind": "mismatch", "reason": "blake2b is x"}])])
    return pids


@pytest.fixture()
def client(mongo, db, scans):
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, tokens={
        "ta": TokenUser(user="alice", groups=["A"]), "tb": TokenUser(user="bob", groups=["B"])})
    with TestClient(create_app(settings)) as c:
        yield c


def test_the_rows_carry_each_scans_fixity(client: TestClient, scans: dict[str, str]) -> None:
    rows = {r["pid"]: r["fixity"] for r in client.get("/api/scans", headers=A).json()["data"]}
    assert rows == {scans["ok"]: {"state": "ok", "problemCount": 0},
                    scans["flagged"]: {"state": "flagged", "problemCount": 2},
                    scans["unchecked"]: None}  # no pass yet; B's scan (and its mismatch) not among them
    searched = client.get("/api/scans?q=scan", headers=A).json()["data"]  # the free-text page too
    assert {r["pid"]: r["fixity"] for r in searched} == rows


def test_the_detail_shows_the_problems_to_its_readers_only(client: TestClient, scans: dict[str, str]) -> None:
    fixity = client.get(f"/api/scans/{scans['flagged']}", headers=A).json()["fixity"]
    assert fixity["state"] == "flagged" and fixity["problemCount"] == 2 and fixity["algorithm"] == "blake2b"
    assert fixity["problems"][1] == {"path": "/data/scan2.log", "kind": "gone", "reason": "/data/scan2.log does not exist"}
    assert fixity["checkedAt"] == CHECKED.isoformat() and fixity["verifiedAt"] is None
    assert client.get(f"/api/scans/{scans['unchecked']}", headers=A).json()["fixity"] is None
    assert client.get(f"/api/scans/{scans['theirs']}", headers=A).status_code == 404
    assert client.get(f"/api/scans/{scans['theirs']}").status_code == 404  # anonymous: not published
    assert client.get(f"/api/scans/{scans['theirs']}", headers=B).json()["fixity"]["state"] == "mismatch"


def test_the_reasons_which_name_server_paths_are_shown_only_to_those_who_may_change_the_scan(
        client: TestClient, db, scans: dict[str, str]) -> None:
    """A reason names the resolved file and the configured data roots (scifix writes them so): the
    owners see it; anyone else who reads the scan (published, or given access) sees path and kind."""
    db[DATASET_COLLECTION].update_one({"_id": scans["flagged"]}, {"$set": {"isPublished": True}})
    db[DATASET_COLLECTION].update_one({"_id": scans["theirs"]}, {"$set": {"accessGroups": ["A"]}})
    db[FIXITY_COLLECTION].update_one({"_id": scans["flagged"]}, {"$push": {"problems": {
        "path": "raw/scan2.nxs", "kind": "outside", "reason": "/srv/secret/raw/scan2.nxs is outside the data roots "
                                                              "(/gpfs/beamline, /mnt/archive)"}}})
    owner = client.get(f"/api/scans/{scans['flagged']}", headers=A).json()["fixity"]["problems"]
    assert owner[2]["reason"].startswith("/srv/secret/raw/scan2.nxs is outside")
    for headers in ({}, B):  # anonymous, and a member of another group
        detail = client.get(f"/api/scans/{scans['flagged']}", headers=headers)
        assert detail.status_code == 200
        assert detail.json()["fixity"]["problems"] == [
            {"path": "/data/scan2.h5", "kind": "changed"}, {"path": "/data/scan2.log", "kind": "gone"},
            {"path": "raw/scan2.nxs", "kind": "outside"}]
        assert "/srv/secret" not in detail.text and "/gpfs" not in detail.text
    given = client.get(f"/api/scans/{scans['theirs']}", headers=A).json()["fixity"]  # reads B's scan, may not change it
    assert given["problems"] == [{"path": "/data/b.h5", "kind": "mismatch"}]
    assert client.get(f"/api/scans/{scans['theirs']}", headers=B).json()["fixity"]["problems"][0]["reason"] == "blake2b is x"


def test_the_landing_page_says_each_datasets_fixity(mongo, db, scans: dict[str, str]) -> None:
    from scizoo.testing import DataCiteStandIn

    form = {"title": "Pt(111)", "abstract": "XPS.", "creators": [{"name": "Lovelace, Ada"}], "publisher": "scizoo lab",
            "publication_year": 2026, "dataset_pids": [scans["ok"], scans["flagged"], scans["unchecked"]]}
    with DataCiteStandIn() as datacite, TestClient(create_app(ScanlogSettings(
            mongo_uri=mongo.uri, database=db.name, datacite_url=datacite.url, datacite_username="SCIZOO.TEST",
            datacite_password="dc-secret", tokens={"ta": TokenUser(user="alice", groups=["A"])}))) as client:
        doi = client.post("/api/publications", headers=A, json=form).json()["doi"]
        assert client.post(f"/api/publications/{doi}/register", headers=A).status_code == 200
        page = unescape(client.get(f"/doi/{doi}").text)  # nobody signed in
    sections = {pid: page.split(f"<p>pid {pid}</p>", 1)[1].split("</p>", 1)[0] for pid in scans.values()
                if f"<p>pid {pid}</p>" in page}
    assert set(sections) == {scans["ok"], scans["flagged"], scans["unchecked"]}
    assert sections[scans["ok"]].endswith("checksums: ok (checked 2026-12-05)")
    assert sections[scans["flagged"]].endswith("checksums: 2 problems: /data/scan2.h5: changed; /data/scan2.log: gone "
                                                "(checked 2026-12-05)")
    assert sections[scans["unchecked"]].endswith("checksums: not yet checked")

"""The read API enforces SciCat's access rules against the real store."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from scanlog_api import ScanlogSettings, TokenUser, create_app
from scizoo import DATASET_COLLECTION, CatalogueSettings, Proposal, ScanMetadata, build_dataset
from tests.conftest import make_scan

pytestmark = pytest.mark.system


def _dataset(n: int, proposal: str) -> dict:
    message = ScanMetadata(message_id=f"api-{n}", beamline="sim", source="manual", proposal_id=proposal,
                           data_path="/data", scan=make_scan(n), produced_at=make_scan(n).start)
    return build_dataset(message, Proposal(proposalId=proposal), CatalogueSettings())


def test_users_see_only_their_proposals_scans(mongo, db) -> None:  # noqa: ANN001
    db[DATASET_COLLECTION].insert_many([_dataset(1, "A"), _dataset(2, "A"), _dataset(3, "B")])
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name,
                               tokens={"ta": TokenUser(user="a", groups=["A"]), "tb": TokenUser(user="b", groups=["B"])})
    with TestClient(create_app(settings)) as client:
        a = client.get("/api/scans", headers={"Authorization": "Bearer ta"}).json()
        assert a["count"] == 2 and {s["proposalIds"][0] for s in a["data"]} == {"A"}
        assert [s["scan_id"] for s in a["data"]] == ["2", "1"]  # newest first
        b = client.get("/api/scans?proposal=A", headers={"Authorization": "Bearer tb"}).json()
        assert b == {"data": [], "count": 0}
        assert client.get("/api/scans").json()["count"] == 0  # anonymous: published only
        assert client.get("/api/scans", headers={"Authorization": "Bearer nope"}).status_code == 401
        page = client.get("/api/scans?limit=1&skip=1", headers={"Authorization": "Bearer ta"}).json()
        assert page["count"] == 2 and [s["scan_id"] for s in page["data"]] == ["1"]

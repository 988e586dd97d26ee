"""What the catalogue owns, an ingest never resets (issue 18, section 1), on real parts.

A scan is ingested by scicow, published with a DOI through the scan table's API (DataCite
stand-in), then its own message arrives again, newer, and again naming another proposal:
it stays published, on its landing page, owned by its proposal, with what people added.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from scanlog_api import ScanlogSettings, TokenUser, create_app
from scizoo.core import (
    DATASET_COLLECTION,
    ORIG_DATABLOCK_COLLECTION,
    PROPOSAL_COLLECTION,
    DataFile,
    dataset_pid,
    dead_letter_topic,
)
from scizoo.testing import DataCiteStandIn
from tests.helpers import PID_PREFIX, read_topic, wait_for
from tests.system.test_pipeline import _message, _produce

pytestmark = pytest.mark.system
OWNER = {"Authorization": "Bearer owner"}


@pytest.fixture()
def scans(mongo, db, scicow) -> Iterator[TestClient]:
    for proposal in ("20240001", "20240002"):
        db[PROPOSAL_COLLECTION].replace_one({"_id": proposal}, {"proposalId": proposal, "ownerGroup": proposal,
                                                                "pi_email": f"pi-{proposal}@example.org"}, upsert=True)
    scicow()
    with DataCiteStandIn() as datacite:
        settings = ScanlogSettings(
            mongo_uri=mongo.uri, database=db.name, doi_prefix="10.5072", public_url="https://scans.example.org",
            datacite_url=datacite.url, datacite_username="SCIZOO.TEST", datacite_password="dc-secret",
            publisher="scizoo lab", tokens={"owner": TokenUser(user="ada", groups=["20240001"])})
        with TestClient(create_app(settings)) as client:
            yield client


def _publish(client: TestClient, pid: str) -> str:
    form = {"title": "A published scan", "abstract": "Kept public whatever arrives later.",
            "creators": [{"name": "Lovelace, Ada"}], "publisher": "scizoo lab", "publication_year": 2026,
            "dataset_pids": [pid]}
    made = client.post("/api/publications", headers=OWNER, json=form)
    assert made.status_code == 201, made.text
    doi = made.json()["doi"]
    registered = client.post(f"/api/publications/{doi}/register", headers=OWNER)
    assert registered.status_code == 200, registered.text
    return str(doi)


def _on_landing_page(client: TestClient, doi: str, pid: str) -> bool:
    page = client.get(f"/doi/{doi}")
    ld = json.loads(page.text.split('<script type="application/ld+json">')[1].split("</script>")[0])
    return page.status_code == 200 and any(pid in json.dumps(part) for part in ld["hasPart"])


def test_a_published_scan_stays_published_and_owned_whatever_its_messages_say(
    scans: TestClient, kafka, db, prefix
) -> None:
    first = _message(1)
    first = first.model_copy(update={"scan": first.scan.model_copy(update={
        "status": "running", "files": [DataFile(path="/data/sim/20240001/raw/s1.h5", size=10)]})})
    pid = dataset_pid(first.message_id, PID_PREFIX)
    _produce(kafka.bootstrap_servers, prefix, [first])
    datasets = db[DATASET_COLLECTION]
    wait_for(lambda: datasets.find_one({"_id": pid}) is not None, what="the dataset")
    doi = _publish(scans, pid)
    # What people and SciCat add: a rating, a key of their own, a link, a share.
    assert scans.put(f"/api/scans/{pid}/rating", headers=OWNER, json={"value": 2.5}).status_code == 200
    datasets.update_one({"_id": pid}, {"$set": {"scientificMetadata.sample_note": {"value": "cracked", "unit": ""},
                                                "sharedWith": ["colleague@example.org"],
                                                "keywords": ["sim", "manual", "Pt(111)"]}})
    kept = datasets.find_one({"_id": pid})
    assert kept["isPublished"] and kept["datasetlifecycle"]["publishedOn"]

    # 1. The same scan's message again, newer (a re-capture at the end of the scan).
    later = first.model_copy(update={
        "produced_at": first.produced_at + timedelta(minutes=5),
        "scan": first.scan.model_copy(update={
            "status": "finished", "files": [DataFile(path="/data/sim/20240001/raw/s1.h5", size=2048)]})})
    _produce(kafka.bootstrap_servers, prefix, [later])
    # The dataset is written before its OrigDatablock (both before the offset is committed): wait for both.
    wait_for(lambda: datasets.find_one({"_id": pid})["scientificMetadata"]["scan_status"]["value"] == "finished"
             and db[ORIG_DATABLOCK_COLLECTION].find_one({"datasetId": pid})["dataFileList"][0]["size"] == 2048,
             what="the newer message's metadata and files")
    now = datasets.find_one({"_id": pid})
    # What capture owns changed ...
    assert now["size"] == 2048 and now["updatedAt"] >= kept["updatedAt"]  # never moves back
    # ... and nothing the catalogue owns.
    for field in ("isPublished", "datasetlifecycle", "ownerGroup", "accessGroups", "proposalIds", "sharedWith",
                  "keywords", "dataQualityMetrics", "createdAt", "datasetName"):
        assert now.get(field) == kept.get(field), field
    assert now["scientificMetadata"]["sample_note"]["value"] == "cracked"
    assert _on_landing_page(scans, doi, pid)

    # 2. Its message once more, newer still, naming another proposal: set aside, never applied.
    moved = later.model_copy(update={"proposal_id": "20240002", "produced_at": later.produced_at + timedelta(minutes=5),
                                     "scan": later.scan.model_copy(update={"title": "moved"})})
    _produce(kafka.bootstrap_servers, prefix, [moved])
    [letter] = [json.loads(v) for v in read_topic(kafka.bootstrap_servers, dead_letter_topic(prefix), 1)]
    assert "20240001" in letter["reason"] and "20240002" in letter["reason"] and "not applied" in letter["reason"]
    after = datasets.find_one({"_id": pid})
    assert after["proposalIds"] == ["20240001"] and after["ownerGroup"] == "20240001"
    assert after["isPublished"] and after["updatedAt"] == now["updatedAt"]
    assert db[ORIG_DATABLOCK_COLLECTION].find_one({"datasetId": pid})["ownerGroup"] == "20240001"
    assert _on_landing_page(scans, doi, pid)
    assert scans.get(f"/api/scans/{pid}").status_code == 200  # still public: readable without a login

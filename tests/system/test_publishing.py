"""Publishing against a local server that behaves like DataCite's REST API, failures included."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from scanlog_api import ScanlogSettings, TokenUser, create_app
from scizoo.core import DATASET_COLLECTION, PUBLISHED_DATA_COLLECTION
from scizoo.testing import DataCiteStandIn
from tests.helpers import wait_for
from tests.system.test_scan_api import _dataset

pytestmark = pytest.mark.system
A = {"Authorization": "Bearer ta"}
B = {"Authorization": "Bearer tb"}
C = {"Authorization": "Bearer tc"}  # reads A's datasets (accessGroups), may not publish them


@pytest.fixture()
def datacite() -> Iterator[DataCiteStandIn]:
    with DataCiteStandIn() as fake:
        yield fake


@pytest.fixture()
def client(mongo, db, datacite: DataCiteStandIn) -> Iterator[TestClient]:
    db[DATASET_COLLECTION].insert_many([{**_dataset(1, "A"), "accessGroups": ["C"]}, _dataset(2, "A"),
                                        _dataset(3, "B")])
    settings = ScanlogSettings(
        mongo_uri=mongo.uri, database=db.name, doi_prefix="10.5072", public_url="https://scans.example.org",
        datacite_url=datacite.url, datacite_username="SCIZOO.TEST", datacite_password="dc-secret",
        datacite_timeout_s=1.0, publisher="scizoo lab",
        tokens={"ta": TokenUser(user="alice", groups=["A"]), "tb": TokenUser(user="bob", groups=["B"]),
                "tc": TokenUser(user="carol", groups=["C"])})
    with TestClient(create_app(settings)) as c:
        yield c


def _form(pids: list[str], **changes: Any) -> dict[str, Any]:
    return {"title": "Pt(111) oxidation, operando", "abstract": "XPS of Pt(111) under 1 mbar O2 <b>bold</b>",
            "creators": [{"name": "Lovelace, Ada", "orcid": "0000-0002-1825-0097", "affiliation": "scizoo lab"}],
            "publisher": "scizoo lab", "publication_year": 2026, "subjects": ["XPS", "catalysis"],
            "related": [{"identifier": "10.1000/paper", "relation_type": "IsSupplementTo"}],
            "funding": [{"funder_name": "EU", "award_number": "42"}], "dataset_pids": pids, **changes}


def test_a_publication_is_registered_only_once_datacite_has_it(client: TestClient, db, datacite: DataCiteStandIn) -> None:
    a1, a2, b3 = (_dataset(n, p)["pid"] for n, p in ((1, "A"), (2, "A"), (3, "B")))
    assert client.put("/api/cart", headers=C, json={"pids": [a1]}).status_code == 403  # reads, may not publish
    assert client.put("/api/cart", headers=A, json={"pids": [b3]}).status_code == 404  # not even readable
    assert client.put("/api/cart", headers=A, json={"pids": [a1, a2]}).json()["count"] == 2
    assert client.post("/api/publications", headers=B, json=_form([a1])).status_code == 404
    made = client.post("/api/publications", headers=A, json=_form([a1, a2]))
    assert made.status_code == 201, made.text
    doi = made.json()["doi"]
    assert doi.startswith("10.5072/") and made.json()["status"] == "private"
    stored = db[PUBLISHED_DATA_COLLECTION].find_one({"_id": doi})
    assert stored["datasetPids"] == [a1, a2] and stored["ownerGroup"] == "A" and stored["numberOfFiles"] == 0
    assert client.get(f"/doi/{doi}").status_code == 404  # not public before it is registered

    def published() -> list[bool]:
        return [d["isPublished"] for d in db[DATASET_COLLECTION].find({"_id": {"$in": [a1, a2]}})]

    # Every failure, at each step, leaves nothing half-published; a retry completes it.
    for trouble, kind in (("fail", "draft"), ("fail", "publish"), ("hang", "publish")):
        getattr(datacite, trouble).add(kind)
        failed = client.post(f"/api/publications/{doi}/register", headers=A)
        assert failed.status_code == 502 and "DataCite" in failed.json()["detail"], failed.text
        assert published() == [False, False]
        assert db[PUBLISHED_DATA_COLLECTION].find_one({"_id": doi})["status"] == "private"
    done = client.post(f"/api/publications/{doi}/register", headers=A)
    assert done.status_code == 200 and done.json()["status"] == "registered"
    assert published() == [True, True]
    assert all(d["datasetlifecycle"]["publishedOn"] for d in db[DATASET_COLLECTION].find({"_id": {"$in": [a1, a2]}}))
    assert datacite.dois[doi]["state"] == "findable"
    sent = datacite.dois[doi]
    assert sent["url"] == f"https://scans.example.org/doi/{doi}" and sent["publisher"] == {"name": "scizoo lab"}
    assert sent["creators"][0]["nameIdentifiers"][0]["nameIdentifier"] == "https://orcid.org/0000-0002-1825-0097"
    assert client.delete(f"/api/publications/{doi}", headers=A).status_code == 409  # a DOI is forever

    page = client.get(f"/doi/{doi}")  # no login
    assert page.status_code == 200 and "Pt(111) oxidation" in page.text and "<b>bold</b>" not in page.text
    ld = json.loads(page.text.split('<script type="application/ld+json">')[1].split("</script>")[0])
    assert ld["@type"] == "Dataset" and ld["identifier"] == f"https://doi.org/{doi}" and len(ld["hasPart"]) == 2
    assert "@misc{" in client.get(f"/doi/{doi}/bibtex").text
    assert client.get(f"/doi/{doi}/datacite.json").json()["doi"] == doi
    # Published: anyone reads the datasets now, and still nobody but A writes them.
    assert client.get(f"/api/scans/{a1}").status_code == 200
    assert client.put(f"/api/scans/{a1}/rating", headers=B, json={"value": 1}).status_code == 403

    amended = client.put(f"/api/publications/{doi}", headers=A, json=_form([a1, a2], title="Pt(111), amended"))
    assert amended.status_code == 200 and amended.json()["status"] == "amended"
    assert datacite.dois[doi]["titles"] == [{"title": "Pt(111), amended"}]


def test_a_doi_datacite_may_have_is_never_deleted_here(client: TestClient, db, datacite: DataCiteStandIn) -> None:
    """Deleting a publication asks DataCite once a registration was sent: a timeout is not a no."""
    pid = _dataset(1, "A")["pid"]

    def made() -> str:
        answer = client.post("/api/publications", headers=A, json=_form([pid]))
        assert answer.status_code == 201, answer.text
        return str(answer.json()["doi"])

    def kept(doi: str) -> bool:
        return db[PUBLISHED_DATA_COLLECTION].find_one({"_id": doi}) is not None

    # The publish step timed out here, but DataCite carried on and made the DOI findable.
    doi = made()
    datacite.hang.add("publish")
    assert client.post(f"/api/publications/{doi}/register", headers=A).status_code == 502
    wait_for(lambda: datacite.dois[doi]["state"] == "findable", timeout=10, what="DataCite to finish the call")
    refused = client.delete(f"/api/publications/{doi}", headers=A)
    assert refused.status_code == 409 and "findable" in refused.json()["detail"] and kept(doi)
    # DataCite cannot be asked: unknown is not "none", nothing is deleted.
    datacite.fail.add("get")
    assert client.delete(f"/api/publications/{doi}", headers=A).status_code == 502 and kept(doi)
    # Reconciled: registering again completes the publication.
    assert client.post(f"/api/publications/{doi}/register", headers=A).json()["status"] == "registered"

    # The draft exists, the publish step failed: the draft is deleted at DataCite, then here.
    doi = made()
    datacite.fail.add("publish")
    assert client.post(f"/api/publications/{doi}/register", headers=A).status_code == 502
    assert datacite.dois[doi]["state"] == "draft"
    assert client.delete(f"/api/publications/{doi}", headers=A).status_code == 204
    assert doi not in datacite.dois and not kept(doi)

    # Never sent, or DataCite says it has no such DOI: deleted.
    doi = made()
    assert client.delete(f"/api/publications/{doi}", headers=A).status_code == 204 and not kept(doi)
    doi = made()
    datacite.fail.add("draft")
    assert client.post(f"/api/publications/{doi}/register", headers=A).status_code == 502
    assert client.delete(f"/api/publications/{doi}", headers=A).status_code == 204 and not kept(doi)


def test_a_dataset_taken_out_of_a_private_publication_is_never_published_by_it(client: TestClient, db) -> None:
    a1, a2, b3 = (_dataset(n, p)["pid"] for n, p in ((1, "A"), (2, "A"), (3, "B")))
    doi = client.post("/api/publications", headers=A, json=_form([a1, a2])).json()["doi"]
    # Amended to one dataset: stored as such (before, only the form changed, and register
    # published both).
    assert client.put(f"/api/publications/{doi}", headers=A, json=_form([a1])).status_code == 200
    assert db[PUBLISHED_DATA_COLLECTION].find_one({"_id": doi})["datasetPids"] == [a1]
    # Another group's dataset cannot be amended in (the same rule as at creation).
    assert client.put(f"/api/publications/{doi}", headers=A, json=_form([a1, b3])).status_code == 404
    assert client.post(f"/api/publications/{doi}/register", headers=A).status_code == 200
    published = {d["_id"]: d["isPublished"] for d in db[DATASET_COLLECTION].find({"_id": {"$in": [a1, a2]}})}
    assert published == {a1: True, a2: False}


def test_registering_checks_the_datasets_again(client: TestClient, db) -> None:
    a1 = _dataset(1, "A")["pid"]
    doi = client.post("/api/publications", headers=A, json=_form([a1])).json()["doi"]
    db[DATASET_COLLECTION].update_one({"_id": a1}, {"$set": {"ownerGroup": "B"}})  # moved since
    assert client.post(f"/api/publications/{doi}/register", headers=A).status_code == 404
    assert db[DATASET_COLLECTION].find_one({"_id": a1})["isPublished"] is False


def test_metadata_datacite_would_refuse_is_refused_before_anything_is_sent(client: TestClient, datacite) -> None:
    a1 = _dataset(1, "A")["pid"]
    bad = client.post("/api/publications", headers=A, json=_form([a1], creators=[]))
    assert bad.status_code == 422 and "creators" in bad.text
    assert client.post("/api/publications", headers=A, json=_form([a1], creators=[{"name": "X", "orcid": "nope"}])
                       ).status_code == 422
    assert datacite.calls == []


def test_the_publish_command_for_scripts(mongo, db, datacite: DataCiteStandIn, tmp_path) -> None:
    import os
    import subprocess
    import sys

    import yaml

    pid = _dataset(1, "A")["pid"]
    db[DATASET_COLLECTION].insert_one(_dataset(1, "A"))
    form = tmp_path / "publication.yaml"
    form.write_text(yaml.safe_dump(_form([pid])))
    env = {**os.environ, "SCANLOG_MONGO_URI": mongo.uri, "SCANLOG_DATABASE": db.name, "SCANLOG_DOI_PREFIX": "10.5072",
           "SCANLOG_DATACITE_URL": datacite.url, "SCANLOG_DATACITE_USERNAME": "SCIZOO.TEST",
           "SCANLOG_DATACITE_PASSWORD": "dc-secret", "SCANLOG_PUBLIC_URL": "https://scans.example.org"}

    def publish(group: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "scizoo.cli", "scanlog", "publish", str(form), "--group", group],
                              env=env, capture_output=True, text=True, timeout=120, check=False)

    refused = publish("B")
    assert refused.returncode == 1 and "no dataset" in refused.stderr
    done = publish("A")
    assert done.returncode == 0, done.stderr
    assert "registered, https://scans.example.org/doi/10.5072/" in done.stdout
    assert db[DATASET_COLLECTION].find_one({"_id": pid})["isPublished"] is True
    assert "dc-secret" not in done.stdout + done.stderr

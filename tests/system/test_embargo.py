"""Embargoes and the release policy, against the real store and the local DataCite stand-in.

A publication under embargo is public at DataCite and on its landing page from registration;
its datasets become public (readable, downloadable by anyone) when the release job finds the
embargo ended, not before. The job keeps its state in the store: it may run twice, after a
restart, or as a separate process, and releases each dataset once. The facility's policy
releases exactly what its dry run listed, and nothing while it is off.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from scanlog_api import ScanlogSettings, TokenUser, create_app
from scizoo.core import DATASET_COLLECTION, ORIG_DATABLOCK_COLLECTION, PROPOSAL_COLLECTION, PUBLISHED_DATA_COLLECTION
from scizoo.testing import DataCiteStandIn
from tests.helpers import wait_for
from tests.system.test_publishing import _form
from tests.system.test_scan_api import _dataset

pytestmark = pytest.mark.system
A = {"Authorization": "Bearer ta"}
ADMIN = {"Authorization": "Bearer tadmin"}
TOKENS = {"ta": TokenUser(user="alice", groups=["A"]), "tadmin": TokenUser(user="root", groups=["ops"], admin=True)}


@pytest.fixture()
def datacite() -> Iterator[DataCiteStandIn]:
    with DataCiteStandIn() as fake:
        yield fake


def _settings(mongo: Any, db: Any, datacite: DataCiteStandIn, **changes: Any) -> ScanlogSettings:
    return ScanlogSettings(
        mongo_uri=mongo.uri, database=db.name, doi_prefix="10.5072", public_url="https://scans.example.org",
        datacite_url=datacite.url, datacite_username="SCIZOO.TEST", datacite_password="dc-secret",
        datacite_timeout_s=2.0, publisher="scizoo lab", tokens=TOKENS, tally=False, **changes)


def _env(mongo: Any, db: Any, **more: str) -> dict[str, str]:
    return {**os.environ, "SCANLOG_MONGO_URI": mongo.uri, "SCANLOG_DATABASE": db.name, **more}


def _release_command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`scanlog release` in a process of its own (what a CronJob or an operator runs)."""
    return subprocess.run([sys.executable, "-m", "scizoo.cli", "scanlog", "release", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _released(reason: str) -> float:
    return REGISTRY.get_sample_value("scizoo_datasets_released_total", {"reason": reason}) or 0.0


def _json_ld(page: str) -> dict[str, Any]:
    return dict(json.loads(page.split('<script type="application/ld+json">')[1].split("</script>")[0]))


def _publish_embargoed(client: TestClient, pids: list[str], until: datetime) -> dict[str, Any]:
    made = client.post("/api/publications", headers=A, json=_form(pids, embargo_until=until.isoformat()))
    assert made.status_code == 201, made.text
    done = client.post(f"/api/publications/{made.json()['doi']}/register", headers=A)
    assert done.status_code == 200, done.text
    return dict(done.json())


def test_an_embargoed_publication_is_public_at_once_and_its_datasets_at_the_embargo(
        mongo, db, datacite: DataCiteStandIn, tmp_path: Path) -> None:
    a1, a2 = (_dataset(n, "A") for n in (1, 2))
    db[DATASET_COLLECTION].insert_many([a1, a2])
    pids = [a1["pid"], a2["pid"]]
    data = tmp_path / "scan_0001.h5"
    data.write_bytes(os.urandom(10_000))
    db[ORIG_DATABLOCK_COLLECTION].insert_one({
        "_id": str(uuid.uuid4()), "datasetId": a1["pid"], "size": 10_000, "ownerGroup": "A", "accessGroups": [],
        "dataFileList": [{"path": str(data), "size": 10_000, "time": a1["creationTime"]}]})
    before = _released("embargo")
    settings = _settings(mongo, db, datacite, release_every_s=0.2, data_roots=[str(tmp_path)])
    with TestClient(create_app(settings)) as client:
        past = client.post("/api/publications", headers=A, json=_form(pids, embargo_until="2020-01-01T00:00:00Z"))
        assert past.status_code == 422 and "embargo" in past.json()["detail"]
        until = datetime.now(UTC) + timedelta(seconds=4)
        pub = _publish_embargoed(client, pids, until)
        doi = pub["doi"]
        stored = db[PUBLISHED_DATA_COLLECTION].find_one({"_id": doi})
        embargo = stored["embargoUntil"]
        assert pub["status"] == "registered" and stored["releasedTime"] is None
        # Public at DataCite, with the embargo as its Available date, and on the landing page.
        assert datacite.dois[doi]["state"] == "findable"
        assert datacite.dois[doi]["dates"] == [{"date": embargo.strftime("%Y-%m-%dT%H:%M:%SZ"), "dateType": "Available",
                                                "dateInformation": pub["metadata"]["dates"][0]["dateInformation"]}]
        page = client.get(f"/doi/{doi}")
        assert page.status_code == 200 and "files available from" in page.text
        assert embargo.strftime("%Y-%m-%d %H:%M:%S UTC") in page.text
        assert _json_ld(page.text)["conditionsOfAccess"] == f"Under embargo: files available from {embargo.isoformat()}"
        # The datasets carry the day in SciCat's field for it, and are not public before it.
        for doc in db[DATASET_COLLECTION].find({"_id": {"$in": pids}}):
            assert doc["datasetlifecycle"]["dateOfPublishing"] == embargo and doc["isPublished"] is False

        def table() -> list[tuple[bool, str]]:  # the table's "Public" column, as its owner reads it
            rows = client.get("/api/scans", headers=A, params={"sort": "public"}).json()["data"]
            return [(r["public"], r["public_from"]) for r in rows if r["pid"] in pids]

        assert table() == [(False, embargo.isoformat())] * 2

        def public() -> bool:
            """Whether anyone reads both datasets and downloads the file now; a 200 seen before the
            embargo's end fails (the release may fall between the requests of one look)."""
            codes = [client.get(f"/api/scans/{pid}").status_code for pid in pids]  # anonymous
            download = client.get("/api/downloads/file", params={"pid": a1["pid"], "path": str(data)})
            codes.append(download.status_code)
            answered = datetime.now(UTC)
            assert set(codes) <= {200, 404}, codes
            assert 200 not in codes or answered >= embargo, f"public at {answered}, before the embargo's end"
            assert download.status_code == 404 or download.content == data.read_bytes()
            return set(codes) == {200}

        # Polled until public (each look timed), for at most 10 s after the embargo's end.
        deadline = embargo + timedelta(seconds=10)
        while not public():
            assert datetime.now(UTC) < deadline, "the embargo ended 10 s ago and the datasets are still not public"
            time.sleep(0.1)
        stored = db[PUBLISHED_DATA_COLLECTION].find_one({"_id": doi})
        assert stored["releasedTime"] >= embargo  # released by a round at or after the embargo's end
        for doc in db[DATASET_COLLECTION].find({"_id": {"$in": pids}}):
            assert doc["isPublished"] is True and doc["datasetlifecycle"]["publishedOn"] == embargo
        assert table() == [(True, embargo.isoformat())] * 2
        page = client.get(f"/doi/{doi}")
        assert "files available from" not in page.text and page.text.count("class='dataset'") == 2
        assert "conditionsOfAccess" not in _json_ld(page.text)
        assert _released("embargo") == before + 2
        # The embargo of a publication whose datasets are public cannot change any more.
        moved = client.put(f"/api/publications/{doi}", headers=A,
                           json=_form(pids, embargo_until=(until + timedelta(days=1)).isoformat()))
        assert moved.status_code == 409, moved.text


def test_the_release_job_keeps_its_state_in_the_store(mongo, db, datacite: DataCiteStandIn) -> None:
    """Stopped before the embargo ends, nothing happens meanwhile; a restarted service releases
    it; further runs (the service's and `scanlog release` in processes of their own) release nothing again."""
    a1 = _dataset(1, "A")
    db[DATASET_COLLECTION].insert_one(a1)
    pid = a1["pid"]
    with TestClient(create_app(_settings(mongo, db, datacite, release_every_s=0.2))) as client:
        doi = _publish_embargoed(client, [pid], datetime.now(UTC) + timedelta(seconds=2))["doi"]
    embargo = db[PUBLISHED_DATA_COLLECTION].find_one({"_id": doi})["embargoUntil"]
    wait_for(lambda: datetime.now(UTC) > embargo + timedelta(seconds=1), timeout=10, what="the embargo to end")
    assert db[DATASET_COLLECTION].find_one({"_id": pid})["isPublished"] is False  # no job was running

    before = _released("embargo")
    with TestClient(create_app(_settings(mongo, db, datacite, release_every_s=0.2))):  # the restart
        wait_for(lambda: db[DATASET_COLLECTION].find_one({"_id": pid})["isPublished"], timeout=10,
                 what="the restarted service to release the dataset")
        released = db[PUBLISHED_DATA_COLLECTION].find_one({"_id": doi})["releasedTime"]
        time.sleep(1)  # several more rounds of the service's loop
    assert _released("embargo") == before + 1
    again = _release_command(_env(mongo, db))  # and once more, as a CronJob would: nothing left to release
    assert again.returncode == 0, again.stderr
    assert again.stdout == "" and "released 0 dataset(s)" in again.stderr
    doc = db[DATASET_COLLECTION].find_one({"_id": pid})
    assert doc["isPublished"] is True and doc["datasetlifecycle"]["publishedOn"] == embargo
    assert db[PUBLISHED_DATA_COLLECTION].find_one({"_id": doi})["releasedTime"] == released


def test_a_dataset_that_left_the_owner_group_meanwhile_is_not_released(mongo, db, datacite: DataCiteStandIn) -> None:
    """As registering checks the datasets again, the release does: the publication's owners
    decided for datasets that were theirs."""
    a1, a2 = _dataset(1, "A"), _dataset(2, "A")
    db[DATASET_COLLECTION].insert_many([a1, a2])
    with TestClient(create_app(_settings(mongo, db, datacite, release_every_s=0))) as client:
        doi = _publish_embargoed(client, [a1["pid"], a2["pid"]], datetime.now(UTC) + timedelta(seconds=3))["doi"]
        db[DATASET_COLLECTION].update_one({"_id": a2["pid"]}, {"$set": {"ownerGroup": "B"}})
        embargo = db[PUBLISHED_DATA_COLLECTION].find_one({"_id": doi})["embargoUntil"]
        wait_for(lambda: datetime.now(UTC) > embargo, timeout=10, what="the embargo to end")
        done = client.post("/api/releases", headers=ADMIN).json()
    assert [r["pid"] for r in done["releases"]] == [a1["pid"]]
    assert [(h["what"], h["kind"]) for h in done["held"]] == [(a2["pid"], "moved")]
    assert db[DATASET_COLLECTION].find_one({"_id": a2["pid"]})["isPublished"] is False


def test_an_embargo_moves_or_is_lifted_while_the_datasets_wait(mongo, db, datacite: DataCiteStandIn) -> None:
    a1 = _dataset(1, "A")
    db[DATASET_COLLECTION].insert_one(a1)
    with TestClient(create_app(_settings(mongo, db, datacite, release_every_s=0))) as client:
        doi = _publish_embargoed(client, [a1["pid"]], datetime(2031, 3, 1, tzinfo=UTC))["doi"]
        later = client.put(f"/api/publications/{doi}", headers=A, json=_form([a1["pid"]], embargo_until="2032-01-01"))
        assert later.status_code == 200 and later.json()["status"] == "amended", later.text
        assert datacite.dois[doi]["dates"][0]["date"] == "2032-01-01"
        lifecycle = db[DATASET_COLLECTION].find_one({"_id": a1["pid"]})["datasetlifecycle"]
        assert lifecycle["dateOfPublishing"] == datetime(2032, 1, 1, tzinfo=UTC)
        assert client.post("/api/releases", headers=ADMIN).json()["releases"] == []
        # Lifted: due now, and the next round releases it.
        lifted = client.put(f"/api/publications/{doi}", headers=A, json=_form([a1["pid"]]))
        assert lifted.status_code == 200 and datacite.dois[doi]["dates"] == []
        assert [r["pid"] for r in client.post("/api/releases", headers=ADMIN).json()["releases"]] == [a1["pid"]]
    assert db[DATASET_COLLECTION].find_one({"_id": a1["pid"]})["isPublished"] is True


def test_an_embargo_moved_later_between_a_rounds_plan_and_its_apply_is_kept(
        mongo, db, datacite: DataCiteStandIn) -> None:
    """The round plans while the embargo has ended; its owner moves it 30 days on before the round
    applies: the round releases nothing (it claims each publication in the store first, and the
    moved embargo is not due). Once a round has claimed a publication, its embargo no longer moves."""
    a1, a2 = _dataset(1, "A"), _dataset(2, "A")
    db[DATASET_COLLECTION].insert_many([a1, a2])
    with TestClient(create_app(_settings(mongo, db, datacite, release_every_s=0))) as client:
        releaser = client.app.state.publisher.releaser  # type: ignore[attr-defined]
        doi = _publish_embargoed(client, [a1["pid"]], datetime.now(UTC) + timedelta(seconds=3))["doi"]
        embargo = db[PUBLISHED_DATA_COLLECTION].find_one({"_id": doi})["embargoUntil"]
        wait_for(lambda: datetime.now(UTC) > embargo, timeout=10, what="the embargo to end")
        now = datetime.now(UTC)
        plan = releaser.plan(now)
        assert plan.publications == [doi] and [r.pid for r in plan.releases] == [a1["pid"]]
        later = (embargo + timedelta(days=30)).date().isoformat()
        moved = client.put(f"/api/publications/{doi}", headers=A, json=_form([a1["pid"]], embargo_until=later))
        assert moved.status_code == 200, moved.text
        assert releaser.apply(plan, now) == []
        stored = db[PUBLISHED_DATA_COLLECTION].find_one({"_id": doi})
        assert stored["releasedTime"] is None and stored["embargoUntil"].date().isoformat() == later
        assert db[DATASET_COLLECTION].find_one({"_id": a1["pid"]})["isPublished"] is False
        assert client.get(f"/api/scans/{a1['pid']}").status_code == 404  # anonymous: still private

        # A round that has claimed a publication releases it; an amendment meanwhile cannot move its embargo.
        other = _publish_embargoed(client, [a2["pid"]], datetime.now(UTC) + timedelta(seconds=3))["doi"]
        ended = db[PUBLISHED_DATA_COLLECTION].find_one({"_id": other})["embargoUntil"]
        wait_for(lambda: datetime.now(UTC) > ended, timeout=10, what="the embargo to end")
        now = datetime.now(UTC)
        assert releaser.store.claim_release(other, now) is not None  # what apply does first
        refused = client.put(f"/api/publications/{other}", headers=A,
                             json=_form([a2["pid"]], embargo_until=(now + timedelta(days=30)).date().isoformat()))
        assert refused.status_code == 409 and "being released" in refused.json()["detail"], refused.text
        assert db[PUBLISHED_DATA_COLLECTION].find_one({"_id": other})["embargoUntil"] == ended
        assert [r.pid for r in releaser.run(now).releases] == [a2["pid"]]
        assert db[DATASET_COLLECTION].find_one({"_id": a2["pid"]})["isPublished"] is True
        assert datacite.dois[other]["dates"][0]["date"] == ended.strftime("%Y-%m-%dT%H:%M:%SZ")  # not sent either


def test_a_dataset_put_under_an_embargo_between_a_policy_rounds_plan_and_its_apply_stays_private(
        mongo, db, datacite: DataCiteStandIn) -> None:
    """The policy plans to release a proposal's two datasets; before it applies, their owner
    publishes one of them under an embargo: that one stays private (the store decides at the write)."""
    now = datetime.now(UTC)
    db[PROPOSAL_COLLECTION].insert_one({"_id": "P-old", "proposalId": "P-old", "title": "t",
                                        "endTime": now.replace(year=now.year - 5)})
    a1, a2 = ({**_dataset(n, "P-old"), "ownerGroup": "A"} for n in (1, 2))
    db[DATASET_COLLECTION].insert_many([a1, a2])
    db[ORIG_DATABLOCK_COLLECTION].insert_many([{"_id": f"b{n}", "datasetId": d["pid"], "isPublished": False}
                                               for n, d in enumerate((a1, a2))])
    with TestClient(create_app(_settings(mongo, db, datacite, release_every_s=0))) as client:
        releaser = client.app.state.publisher.releaser  # type: ignore[attr-defined]
        plan = releaser.plan(now, policy_years=3)
        assert sorted(r.pid for r in plan.releases) == sorted([a1["pid"], a2["pid"]])
        _publish_embargoed(client, [a2["pid"]], now + timedelta(days=30))
        assert [r.pid for r in releaser.apply(plan, datetime.now(UTC))] == [a1["pid"]]
    public = {d["_id"]: d["isPublished"] for d in db[DATASET_COLLECTION].find()}
    assert public == {a1["pid"]: True, a2["pid"]: False}
    blocks = {b["datasetId"]: b["isPublished"] for b in db[ORIG_DATABLOCK_COLLECTION].find()}
    assert blocks == public  # a datablock is public exactly when its dataset is


def test_one_replica_at_a_time_holds_the_release_lease(db) -> None:
    from scanlog_api._release import Lease

    now = datetime.now(UTC)
    first, second = (Lease(lambda: db["ScizooLease"], "release", holder, ttl_s=5) for holder in ("one", "two"))
    assert first.acquire(now) and first.acquire(now + timedelta(seconds=1))  # held, and renewed
    assert not second.acquire(now + timedelta(seconds=2))
    assert second.acquire(now + timedelta(seconds=7))  # lapsed: the first holder died
    assert not first.acquire(now + timedelta(seconds=8))
    second.give_up()
    assert first.acquire(now + timedelta(seconds=8))  # given up at a clean stop: no wait


def test_the_policy_releases_exactly_what_its_dry_run_listed(mongo, db, datacite: DataCiteStandIn) -> None:
    now = datetime.now(UTC)
    years_ago = {n: now.replace(year=now.year - n) for n in (1, 4, 5)}
    db[PROPOSAL_COLLECTION].insert_many([
        {"_id": "P-old", "proposalId": "P-old", "title": "t", "endTime": years_ago[4]},
        {"_id": "P-recent", "proposalId": "P-recent", "title": "t", "endTime": years_ago[1]},
        {"_id": "P-periods", "proposalId": "P-periods", "title": "t",
         "MeasurementPeriodList": [{"instrument": "sim", "end": years_ago[5]}]},
        {"_id": "P-open", "proposalId": "P-open", "title": "t"},
    ])
    datasets = [_dataset(1, "P-old"), _dataset(2, "P-old"), _dataset(3, "P-old"), _dataset(4, "P-recent"),
                _dataset(5, "P-periods"), _dataset(6, "P-open"), {**_dataset(7, "P-old"), "type": "derived"},
                {**_dataset(8, "P-old"), "isPublished": True}]
    for doc in datasets:
        doc["ownerGroup"] = "A"
    db[DATASET_COLLECTION].insert_many(datasets)
    pid = {n: d["pid"] for n, d in enumerate(datasets, start=1)}
    expected = sorted([pid[1], pid[2], pid[5]])  # 3 is held by an embargo, 7 is derived, 8 is public already

    def published() -> set[str]:
        return {d["_id"] for d in db[DATASET_COLLECTION].find({"isPublished": True})}

    with TestClient(create_app(_settings(mongo, db, datacite, release_every_s=0))) as client:
        _publish_embargoed(client, [pid[3]], now + timedelta(days=30))
        # Off by default: neither the dry run nor a real run releases anything.
        assert client.get("/api/releases", headers=ADMIN).json()["releases"] == []
        assert client.post("/api/releases", headers=ADMIN).json()["releases"] == []
        # An administrator previews a policy before a facility turns it on; nobody else may.
        preview = client.get("/api/releases", headers=ADMIN, params={"policy_years": 3})
        assert sorted(r["pid"] for r in preview.json()["releases"]) == expected
        assert client.get("/api/releases", headers=A, params={"policy_years": 3}).status_code == 403
    off = _release_command(_env(mongo, db))
    assert off.returncode == 0 and off.stdout == "", off.stderr
    assert published() == {pid[8]}

    env = _env(mongo, db, SCANLOG_RELEASE_POLICY_YEARS="3")
    dry = _release_command(env, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    listed = [line.split("\t") for line in dry.stdout.splitlines()]
    assert sorted(p for p, *_ in listed) == expected and {r for _, r, *_ in listed} == {"policy"}
    # Said, not skipped silently: the held dataset, and the proposals with no end (P-open, the fixture's).
    assert "under the embargo of 10.5072/" in dry.stderr and "2 proposal(s): no end date" in dry.stderr
    assert published() == {pid[8]}  # a dry run changes nothing

    real = _release_command(env)
    assert real.returncode == 0, real.stderr
    assert real.stdout == dry.stdout  # exactly what the dry run listed
    assert published() == {pid[8], *expected}
    again = _release_command(env)
    assert again.stdout == "" and "released 0 dataset(s)" in again.stderr


@pytest.mark.parametrize("given", ["2031-03-01", "2031-03-01T00:00:00Z", "2031-03-01T01:00:00+01:00"])
def test_an_embargo_day_is_the_start_of_that_day_in_utc(given: str) -> None:
    """The form's date input and a YAML date (`scanlog publish`) give a day; DataCite gets that day."""
    import yaml

    from scizoo.core import PublicationIn, datacite_attributes

    pub = PublicationIn.model_validate({**_form(["p/1"]), "embargo_until": yaml.safe_load(f"d: {given}")["d"]})
    assert pub.embargo_until == datetime(2031, 3, 1, tzinfo=UTC)
    assert datacite_attributes(pub, "10.5072/x", "https://x")["dates"][0]["date"] == "2031-03-01"

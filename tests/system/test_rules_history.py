"""The reduction rules' history through the scan table's API on the real store (SecantusDB):
every revision kept (who, when, the rules), the diff between two, a restore, the stale
revision refused, who may change what (administrators, a beamline's staff for its rules),
problems named by field, and the dry run over the caller's own newest scans."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from scizoo.core import DATASET_COLLECTION, ORIG_DATABLOCK_COLLECTION, REDUCTION_RULES_COLLECTION

pytestmark = pytest.mark.system

ALICE, ZOE, STAFF = ({"Authorization": "Bearer ta"}, {"Authorization": "Bearer tz"}, {"Authorization": "Bearer ts"})


@pytest.fixture()
def client(mongo, db):
    from fastapi.testclient import TestClient

    from scanlog_api import ScanlogSettings, TokenUser, create_app

    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, rule_staff_groups={"sim": "sim-staff"}, tokens={
        "ta": TokenUser(user="alice", groups=["A"]), "tz": TokenUser(user="zoe", groups=[], admin=True),
        "ts": TokenUser(user="sam", groups=["sim-staff"])})
    with TestClient(create_app(settings)) as c:
        yield c


def _rule(name: str, beamline: str = "sim", bins: int = 2, **more: object) -> dict[str, object]:
    return {"name": name, "pipeline": "profile", "beamline": beamline, "params": {"bin": {"bins": bins}}, **more}


def test_every_revision_is_kept_diffed_and_restorable_by_whom_may(client, db, tmp_path) -> None:
    from scireduce import StoredRules

    seed = tmp_path / "rules.yaml"
    seed.write_text(json.dumps({"rules": [_rule("fine"), _rule("wide", beamline="*")]}))
    book = StoredRules(db[REDUCTION_RULES_COLLECTION], seed)
    assert book.seed()

    shown = client.get("/api/reduction-rules", headers=STAFF).json()
    assert shown["revision"] == 1 and shown["mayChange"] == {"all": False, "beamlines": ["sim"]}
    assert client.get("/api/reduction-rules", headers=ZOE).json()["mayChange"] == {"all": True, "beamlines": []}

    # A beamline's staff change their beamline's rule...
    done = client.put("/api/reduction-rules", headers=STAFF,
                      json={"revision": 1, "rules": [_rule("fine", bins=4), _rule("wide", beamline="*")]})
    assert done.status_code == 200, done.text
    assert done.json()["revision"] == 2 and done.json()["updatedBy"] == "sam"
    # ...but not one that reaches every beamline, nor move theirs to another, nor does a user.
    for rules in ([_rule("fine", bins=4), _rule("wide", beamline="*", bins=9)],
                  [_rule("fine", beamline="xrd", bins=4), _rule("wide", beamline="*")]):
        refused = client.put("/api/reduction-rules", headers=STAFF, json={"revision": 2, "rules": rules})
        assert refused.status_code == 403 and "this change touches rules of others" in refused.json()["detail"]
    assert "beamline *" in refused.json()["detail"] or "beamline xrd" in refused.json()["detail"]
    refused = client.put("/api/reduction-rules", headers=ALICE, json={"revision": 2, "rules": [_rule("fine")]})
    assert refused.status_code == 403 and "a beamline's staff" in refused.json()["detail"]
    # An administrator changes any; a change from a revision that is gone is a 409, and not kept.
    done = client.put("/api/reduction-rules", headers=ZOE,
                      json={"revision": 2, "rules": [_rule("fine", bins=4), _rule("sum", beamline="xrd")]})
    assert done.json()["revision"] == 3
    stale = client.put("/api/reduction-rules", headers=ZOE, json={"revision": 2, "rules": [_rule("late")]})
    assert stale.status_code == 409 and "no longer at revision 2" in stale.json()["detail"]

    history = client.get("/api/reduction-rules/revisions", headers=ALICE).json()
    assert [(r["revision"], r["updatedBy"]) for r in history["data"]] == [(3, "zoe"), (2, "sam"), (1, f"file {seed}")]
    assert [r["summary"] for r in history["data"]] == [
        "added sum; removed wide", "changed fine (params.bin.bins)", "added fine, wide"]
    assert all(r["updatedAt"] for r in history["data"])
    change = client.get("/api/reduction-rules/diff?from=1&to=3", headers=ALICE).json()
    assert change["changed"] == [{"name": "fine", "fields": [{"field": "params.bin.bins", "from": 2, "to": 4}]}]
    assert [r["name"] for r in change["added"]] == ["sum"] and [r["name"] for r in change["removed"]] == ["wide"]
    assert client.get("/api/reduction-rules/revisions/1", headers=ALICE).json()["rules"][1]["name"] == "wide"
    assert client.get("/api/reduction-rules/revisions/9", headers=ALICE).status_code == 404
    assert client.get("/api/reduction-rules/revisions").status_code == 401

    # Restore revision 1: a new revision with its rules, from the revision in use; the workers follow.
    assert client.post("/api/reduction-rules/revisions/1/restore", headers=STAFF, json={"revision": 3}).status_code == 403
    assert client.post("/api/reduction-rules/revisions/1/restore", headers=ZOE, json={"revision": 2}).status_code == 409
    restored = client.post("/api/reduction-rules/revisions/1/restore", headers=ZOE, json={"revision": 3})
    assert restored.status_code == 200 and restored.json()["revision"] == 4
    followed = book.current().rules
    assert [r.name for r in followed] == ["fine", "wide"] and followed[0].params["bin"] == {"bins": 2}
    newest = client.get("/api/reduction-rules/revisions?limit=1", headers=ALICE).json()["data"]
    assert newest == [{**newest[0], "revision": 4, "restoredFrom": 1, "updatedBy": "zoe",
                       "summary": "added wide; removed sum; changed fine (params.bin.bins)"}]


def test_the_workers_seed_and_imports_are_kept_too_one_after_another(client, db, tmp_path) -> None:
    from scireduce import StoredRules
    from scizoo.core import ReductionRuleSet

    seed = tmp_path / "rules.yaml"
    seed.write_text(json.dumps({"rules": [_rule("fine")]}))
    book = StoredRules(db[REDUCTION_RULES_COLLECTION], seed)
    book.seed()
    assert client.put("/api/reduction-rules", headers=ZOE, json={"revision": 1, "rules": [_rule("a")]}).status_code == 200
    for name in ("imported", "again"):  # two imports, nobody changing the rules in between
        book.replace(ReductionRuleSet.model_validate({"rules": [_rule(name)]}), by="ops")
    history = client.get("/api/reduction-rules/revisions", headers=ZOE).json()["data"]
    assert [(r["revision"], r["updatedBy"], r["summary"]) for r in history] == [
        (4, "ops", "added again; removed imported"), (3, "ops", "added imported; removed a"),
        (2, "zoe", "added a; removed fine"), (1, f"file {seed}", "added fine")]
    assert client.get("/api/reduction-rules/revisions/3", headers=ZOE).json()["rules"][0]["name"] == "imported"
    restored = client.post("/api/reduction-rules/revisions/3/restore", headers=ZOE, json={"revision": 4})
    assert restored.status_code == 200 and [r.name for r in book.current().rules] == ["imported"]


def test_each_problem_is_named_by_its_field(client) -> None:
    bad = client.put("/api/reduction-rules", headers=ZOE,
                     json={"revision": 0, "rules": [_rule("fine"), _rule("two words", timeout_s=-1)]})
    assert bad.status_code == 422
    where = {tuple(p["loc"]) for p in bad.json()["detail"]}
    assert where == {("body", "rules", 1, "name"), ("body", "rules", 1, "timeout_s")}
    twice = client.put("/api/reduction-rules", headers=ZOE, json={"revision": 0, "rules": [_rule("fine"), _rule("fine")]})
    assert twice.status_code == 422
    assert twice.json()["problems"] == [{"field": "rules.1.name", "message": "another rule is named 'fine' already"}]
    assert client.get("/api/reduction-rules", headers=ZOE).json()["revision"] == 0  # nothing saved


def test_the_dry_run_shows_which_of_the_callers_newest_scans_would_be_reduced(client, db) -> None:
    now = datetime.now(UTC)
    for n, (group, status, beamline) in enumerate([("A", "finished", "sim"), ("A", "running", "sim"),
                                                   ("A", "finished", "xrd"), ("B", "finished", "sim")]):
        pid = f"p/{n}"
        db[DATASET_COLLECTION].insert_one({
            "_id": pid, "pid": pid, "type": "raw", "ownerGroup": group, "accessGroups": [], "isPublished": False,
            "instrumentIds": [beamline], "dataFormat": "dat", "datasetName": f"scan {n}",
            "creationTime": now - timedelta(minutes=n), "scientificMetadata": {"scan_status": {"value": status}}})
        db[ORIG_DATABLOCK_COLLECTION].insert_one({"_id": f"b{n}", "datasetId": pid,
                                                  "dataFileList": [{"path": f"/raw/scan_{n}.dat", "size": 1}]})
    rules = [_rule("fine"), _rule("any", beamline="*", file_pattern="*.h5")]
    answer = client.post("/api/reduction-rules/dry-run", headers=ALICE, json={"rules": rules}).json()
    assert answer["lookedAt"] == 3 and answer["matched"] == 1  # B's scan is not alice's to see
    assert answer["perRule"] == {"fine": 1, "any": 0}
    assert [(s["pid"], s["matches"]) for s in answer["scans"]] == [("p/0", [{"rule": "fine", "file": "/raw/scan_0.dat"}])]
    everyone = client.post("/api/reduction-rules/dry-run", headers=ZOE, json={"rules": rules}).json()
    assert [s["pid"] for s in everyone["scans"]] == ["p/0", "p/3"]
    assert db[REDUCTION_RULES_COLLECTION].count_documents({}) == 0  # nothing saved
    bad = client.post("/api/reduction-rules/dry-run", headers=ALICE, json={"rules": [_rule("x", beamline=3)]})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "rules", 0, "beamline"]


def test_the_workers_pipelines_are_shown_and_a_rule_is_checked_against_them(client, db) -> None:
    from scireduce._describe import publish_pipelines
    from scireduce._registry import pipelines
    from scizoo.core import PIPELINE_COLLECTION

    # Before any worker described its pipelines, a rule's pipeline is the workers' to refuse.
    unknown = {"revision": 0, "rules": [_rule("a", pipeline="nope")]}
    assert client.post("/api/reduction-rules/dry-run", headers=ZOE, json=unknown).status_code == 200
    assert publish_pipelines(db[PIPELINE_COLLECTION], pipelines(), by="w1", now=datetime.now(UTC)) >= 1
    shown = {p["name"]: p for p in client.get("/api/pipelines", headers=ALICE).json()}
    profile = shown["profile"]
    assert [(s["name"], s["inputs"]) for s in profile["steps"]] == [
        ("load", ["raw"]), ("normalise", ["load"]), ("bin", ["normalise"])]
    assert profile["steps"][2]["parameters"] == [{
        "name": "bins", "type": "integer", "default": 5, "required": False,
        "description": "Equal-width bins over the scan's x range.", "constraints": ["≥ 1", "≤ 10000"]}]
    assert profile["publishedBy"] == "w1" and profile["steps"][1]["parameters"][0]["constraints"] == ["> 0"]

    wrong = [_rule("a", pipeline="nope"), {"name": "b", "pipeline": "profile", "params": {"bin": {"binz": 3}, "smooth": {}}},
             {"name": "c", "pipeline": "tests.reduce_pipelines:FAILING"}]
    for answer in (client.put("/api/reduction-rules", headers=ZOE, json={"revision": 0, "rules": wrong}),
                   client.post("/api/reduction-rules/dry-run", headers=ZOE, json={"rules": wrong})):
        assert answer.status_code == 422
        problems = {p["field"]: p["message"] for p in answer.json()["problems"]}
        assert problems == {
            "rules.0.pipeline": "the workers have no pipeline 'nope'; they have: " + ", ".join(sorted(shown)),
            "rules.1.params.bin.binz": "step 'bin' has no parameter 'binz'; it takes: bins",
            "rules.1.params.smooth": "profile has no step 'smooth'; its steps: load, normalise, bin"}
    assert client.get("/api/reduction-rules", headers=ZOE).json()["revision"] == 0

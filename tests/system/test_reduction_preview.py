"""Reduction previews on the real store: asked for through the scan table's API, answered by a
worker's preview taker (scireduce._preview) through the jobs' cache, the numbers checked against
the profile pipeline's own math; refused for a scan the caller may not read; nothing left in the
catalogue."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scizoo.core import (
    DATASET_COLLECTION,
    JOB_COLLECTION,
    PIPELINE_COLLECTION,
    PREVIEW_COLLECTION,
    REDUCTION_RULES_COLLECTION,
)
from tests.helpers import PID_PREFIX
from tests.system.test_reduction import _expected, _finished_raw, _scan_file

pytestmark = pytest.mark.system


def _previewing(db, tmp_path: Path):
    """The rules in the store (rule p: profile, scale 1000, 2 bins), the workers' pipelines
    described, and a worker's preview taker."""
    from scireduce import Reducer, ScireduceSettings, StoredRules
    from scireduce._describe import publish_pipelines
    from scireduce._preview import Previews
    from scireduce._registry import pipelines

    seed = tmp_path / "rules.yaml"
    seed.write_text(json.dumps({"rules": [{"name": "p", "pipeline": "profile", "beamline": "sim",
                                           "params": {"normalise": {"scale": 1000}, "bin": {"bins": 2}}},
                                          {"name": "other", "pipeline": "profile", "beamline": "xrd"}]}))
    book = StoredRules(db[REDUCTION_RULES_COLLECTION], seed)
    book.seed()
    publish_pipelines(db[PIPELINE_COLLECTION], pipelines(), by="w1", now=datetime.now(UTC))
    reducer = Reducer(db, book.current(), ScireduceSettings(work_dir=tmp_path / "work", pid_prefix=PID_PREFIX))
    return Previews(db, reducer)


def _curve(preview: dict) -> list[tuple[float, float, float]]:
    r = preview["result"]
    return list(zip(r["x"], r["y"], r["sigma"], strict=True))


def _close(got, want) -> bool:
    return len(got) == len(want) and all(g == pytest.approx(w) for gp, wp in zip(got, want, strict=True)
                                         for g, w in zip(gp, wp, strict=True))


def test_a_preview_runs_only_what_is_downstream_of_a_changed_parameter(mongo, db, tmp_path) -> None:
    from fastapi.testclient import TestClient

    from scanlog_api import ScanlogSettings, TokenUser, create_app

    _finished_raw(db, "p/7", _scan_file(tmp_path / "raw"))
    previews = _previewing(db, tmp_path)
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, tokens={
        "ta": TokenUser(user="alice", groups=["A"]), "tb": TokenUser(user="bob", groups=["B"])})
    try:
        with TestClient(create_app(settings)) as client:
            alice, bob = {"Authorization": "Bearer ta"}, {"Authorization": "Bearer tb"}

            def preview(params: dict, who: dict = alice) -> dict:
                asked = client.post("/api/reduction-previews", json={"pid": "p/7", "rule": "p", "params": params},
                                    headers=who)
                assert asked.status_code == 202, asked.text
                assert asked.json()["state"] == "queued"
                (taken,) = previews.take()
                assert taken["_id"] == asked.json()["id"]
                got = client.get(f"/api/reduction-previews/{asked.json()['id']}", headers=who)
                assert got.status_code == 200
                return got.json()

            # The scan's first look: nothing cached, every step runs; the rule's own parameters.
            first = preview({})
            assert first["state"] == "done", first
            assert first["steps"] == ["load", "normalise", "bin"] and first["executed"] == ["load", "normalise", "bin"]
            assert first["params"] == {"normalise": {"scale": 1000}, "bin": {"bins": 2}}
            assert _close(_curve(first), _expected(1000, 2))
            # A changed bin count: load and normalise come from the cache.
            rebinned = preview({"bin": {"bins": 3}})
            assert rebinned["executed"] == ["bin"] and _close(_curve(rebinned), _expected(1000, 3))
            # A changed scale: normalise and what follows it run again, load is cached.
            rescaled = preview({"normalise": {"scale": 2}, "bin": {"bins": 3}})
            assert rescaled["executed"] == ["normalise", "bin"] and _close(_curve(rescaled), _expected(2, 3))
            assert preview({"bin": {"bins": 3}})["executed"] == []  # all cached

            # A value the step refuses: the worker says why; a parameter the pipeline lacks: 422 at once.
            bad = preview({"bin": {"bins": "many"}})
            assert bad["state"] == "failed" and "parameters refused by pipeline 'profile'" in bad["error"]
            lacking = client.post("/api/reduction-previews", json={"pid": "p/7", "rule": "p",
                                                                   "params": {"bin": {"binz": 3}}}, headers=alice)
            assert lacking.status_code == 422 and "has no parameter 'binz'" in lacking.text
            other = client.post("/api/reduction-previews", json={"pid": "p/7", "rule": "other"}, headers=alice)
            assert other.status_code == 422 and "does not apply" in other.text

            # One waiting per person: a newer request replaces the one not taken yet.
            older = client.post("/api/reduction-previews", json={"pid": "p/7", "rule": "p"}, headers=alice).json()
            newer = client.post("/api/reduction-previews", json={"pid": "p/7", "rule": "p",
                                                                 "params": {"bin": {"bins": 1}}}, headers=alice).json()
            assert client.get(f"/api/reduction-previews/{older['id']}", headers=alice).json()["state"] == "superseded"
            (taken,) = previews.take()
            assert taken["_id"] == newer["id"] and previews.take() == []

            # A scan bob may not read: refused as one that does not exist; alice's previews are hers.
            refused = client.post("/api/reduction-previews", json={"pid": "p/7", "rule": "p"}, headers=bob)
            assert refused.status_code == 404
            nothing = client.post("/api/reduction-previews", json={"pid": "p/none", "rule": "p"}, headers=bob)
            assert nothing.status_code == 404
            assert client.get(f"/api/reduction-previews/{first['id']}", headers=bob).status_code == 404
            assert client.post("/api/reduction-previews", json={"pid": "p/7", "rule": "p"}).status_code == 401
    finally:
        previews.process.close()

    # Nothing entered the catalogue: no derived dataset, no job, no attachment; only previews.
    assert db[DATASET_COLLECTION].count_documents({"type": "derived"}) == 0
    assert db[JOB_COLLECTION].count_documents({}) == 0
    assert db[PREVIEW_COLLECTION].count_documents({"requestedBy": "alice"}) == 7


def test_a_preview_whose_process_hangs_is_stopped_and_the_next_is_answered(db, tmp_path) -> None:
    """The warm process is a process of its own: one that takes too long is killed, said, and
    the next preview gets a new process."""
    from scizoo.core import new_preview

    _finished_raw(db, "p/8", _scan_file(tmp_path / "raw"))
    previews = _previewing(db, tmp_path)
    previews.worker.rules = previews.worker.rules.model_copy(update={"rules": [
        *previews.worker.rules.rules,
        previews.worker.rules.rules[0].model_copy(update={"name": "stuck", "pipeline": "tests.reduce_pipelines:HANGING",
                                                         "params": {}})]})
    previews.worker.settings = previews.worker.settings.model_copy(update={"module_pipelines": True})
    previews.timeout_s = 3
    now = datetime.now(UTC)
    try:
        for n, rule in enumerate(("stuck", "p")):
            db[PREVIEW_COLLECTION].insert_one(new_preview(f"x{n}", "p/8", rule, "?", {}, requested_by="alice",
                                                          now=now.replace(microsecond=n)).to_mongo())
        stuck, fine = previews.take(2)
        assert stuck["state"] == "failed" and "stopped after 3 s" in stuck["error"]
        assert fine["state"] == "done" and _close(_curve(fine), _expected(1000, 2))
    finally:
        previews.process.close()


def test_a_step_writing_part_of_a_line_to_fd_1_then_hanging_is_stopped_at_the_timeout(db, tmp_path) -> None:
    """A step whose C code or child process writes to file descriptor 1 (not sys.stdout), no newline,
    then hangs: the preview still fails at its timeout and the next preview is answered."""
    import threading

    from scizoo.core import new_preview

    _finished_raw(db, "p/10", _scan_file(tmp_path / "raw"))
    previews = _previewing(db, tmp_path)
    previews.worker.rules = previews.worker.rules.model_copy(update={"rules": [
        *previews.worker.rules.rules,
        previews.worker.rules.rules[0].model_copy(update={
            "name": "partial", "pipeline": "tests.reduce_pipelines:PARTIAL_THEN_HANGING", "params": {}})]})
    previews.worker.settings = previews.worker.settings.model_copy(update={"module_pipelines": True})
    previews.timeout_s = 3
    now = datetime.now(UTC)
    taken: list[dict] = []
    try:
        for n, rule in enumerate(("partial", "p")):
            db[PREVIEW_COLLECTION].insert_one(new_preview(f"y{n}", "p/10", rule, "?", {}, requested_by="alice",
                                                          now=now.replace(microsecond=n)).to_mongo())
        # In a thread, so a preview thread that hangs fails this test instead of hanging it.
        thread = threading.Thread(target=lambda: taken.extend(previews.take(2)), daemon=True)
        thread.start()
        thread.join(30)
        assert not thread.is_alive(), "the preview thread hangs past its timeout"
    finally:
        previews.process.close()
    stuck, fine = taken
    assert stuck["state"] == "failed" and "stopped after 3 s" in stuck["error"]
    assert fine["state"] == "done" and _close(_curve(fine), _expected(1000, 2))


def _chatty_bin(params, normalise: dict) -> dict:
    print("binning now")  # a step that prints: its line must not be taken for the preview's answer
    from scireduce.pipelines import PROFILE

    return PROFILE.steps[2].run(params, normalise=normalise)


def _chatty() -> object:
    from scireduce import Pipeline, Step
    from scireduce.pipelines import PROFILE

    return Pipeline("chatty", "1", (*PROFILE.steps[:2], Step("bin", "2", _chatty_bin, PROFILE.steps[2].params,
                                                             inputs=("normalise",))))


CHATTY = _chatty()


def test_a_step_that_prints_does_not_garble_the_answer(db, tmp_path) -> None:
    from scizoo.core import new_preview

    _finished_raw(db, "p/9", _scan_file(tmp_path / "raw"))
    previews = _previewing(db, tmp_path)
    previews.worker.rules = previews.worker.rules.model_copy(update={"rules": [
        previews.worker.rules.rules[0].model_copy(update={"pipeline": "tests.system.test_reduction_preview:CHATTY"})]})
    previews.worker.settings = previews.worker.settings.model_copy(update={"module_pipelines": True})
    now = datetime.now(UTC)
    try:
        for n in range(2):
            db[PREVIEW_COLLECTION].insert_one(new_preview(f"c{n}", "p/9", "p", "?", {"bin": {"bins": 2 + n}},
                                                          requested_by="alice", now=now.replace(microsecond=n)).to_mongo())
        first, second = previews.take(2)
        assert first["state"] == "done", first
        assert _close(_curve(first), _expected(1000, 2)) and _close(_curve(second), _expected(1000, 3))
    finally:
        previews.process.close()


def test_a_preview_whose_worker_died_is_failed_saying_so_not_running_for_an_hour(mongo, db, tmp_path) -> None:
    """A worker stops its own previews at PREVIEW_TIMEOUT_S; one still "running" PREVIEW_STALE_S
    after its start lost its worker (SIGKILLed, its pod gone): the table says so."""
    from datetime import timedelta

    from fastapi.testclient import TestClient

    from scanlog_api import ScanlogSettings, TokenUser, create_app
    from scizoo.core import PREVIEW_STALE_S, new_preview

    _finished_raw(db, "p/7", _scan_file(tmp_path / "raw"))
    now = datetime.now(UTC)
    for name, started in (("lost", now - timedelta(seconds=PREVIEW_STALE_S + 1)), ("busy", now - timedelta(seconds=2))):
        doc = new_preview(name, "p/7", "p", "profile", {}, requested_by="alice", now=started).to_mongo()
        db[PREVIEW_COLLECTION].insert_one({**doc, "state": "running", "worker": "w1", "startedAt": started})
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, tokens={"ta": TokenUser(user="alice", groups=["A"])})
    with TestClient(create_app(settings)) as client:
        alice = {"Authorization": "Bearer ta"}
        lost = client.get("/api/reduction-previews/lost", headers=alice).json()
        assert lost["state"] == "failed" and "w1" in lost["error"] and "stopped answering" in lost["error"]
        assert client.get("/api/reduction-previews/busy", headers=alice).json()["state"] == "running"
    assert db[PREVIEW_COLLECTION].find_one({"_id": "lost"})["state"] == "failed"  # said once, kept

"""The reduction job store in memory (scireduce.testing.FakeJobStore) behaves as the real one on
SecantusDB (scireduce.MongoJobStore) for every call a worker makes: one behavioural test, run
against both, so the worker's rules tested on the fake (tests/unit/test_reduce_rules.py) hold
on the store that runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scireduce import JobStore, MongoJobStore
from scireduce.testing import FakeJobStore
from scizoo.core import (
    JOB_COLLECTION,
    JobState,
    claim,
    expected,
    fail,
    new_job,
    refuse,
    rerun_request,
)

pytestmark = pytest.mark.system

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.fixture(params=["fake", "mongo"])
def jobs(request) -> JobStore:
    if request.param == "fake":
        return FakeJobStore()
    return MongoJobStore(request.getfixturevalue("db")[JOB_COLLECTION])


def test_the_job_store_keeps_jobs_and_changes_them_only_as_expected(jobs: JobStore) -> None:
    job = new_job("p/1", "fine", "profile", {"bin": {"bins": 2}}, T0)
    assert jobs.create(job) and not jobs.create(job.model_copy(update={"pipeline": "other"}))  # once
    stored = jobs.get(job.id)
    assert stored == job and jobs.get("p/1#nope") is None
    # Compare-and-set: the first of two takes it; the second finds it changed.
    taken = jobs.update(job.id, claim(job, "a", T0), expect=expected(job))
    assert taken is not None and (taken.state, taken.attempt, taken.worker) == (JobState.RUNNING, 1, "a")
    assert jobs.update(job.id, claim(job, "b", T0), expect=expected(job)) is None
    assert jobs.update("p/1#nope", {"log": "x"}) is None
    # Unconditional: how a job ended.
    failed = jobs.update(job.id, fail(T0 + timedelta(seconds=3), "boom", log_tail=100))
    assert failed is not None and (failed.state, failed.log, failed.attempt) == (JobState.FAILED, "boom", 1)
    assert failed.endedAt == T0 + timedelta(seconds=3)
    # Take-over candidates: running, started before a time.
    other = new_job("p/2", "fine", "profile", {}, T0)
    jobs.create(other)
    jobs.update(other.id, claim(other, "dead", T0))
    assert [j.id for j in jobs.running_since_before(T0 + timedelta(seconds=1), 10)] == [other.id]
    assert jobs.running_since_before(T0, 10) == []
    # Reruns asked for through the API: oldest first, by limit; counted by name.
    later = rerun_request("p/1", "fine", 0, {"bin": {"bins": 3}}, requested_by="alice", now=T0 + timedelta(seconds=2))
    sooner = rerun_request("p/1", "fine", 1, {}, requested_by="bob", now=T0 + timedelta(seconds=1))
    assert jobs.create(later) and jobs.create(sooner)
    assert [j.id for j in jobs.requested(5)] == [sooner.id, later.id]
    assert [j.id for j in jobs.requested(1)] == [sooner.id]
    assert jobs.count_reruns("p/1", "fine") == 2 and jobs.count_reruns("p/1", "fin") == 0
    assert jobs.count_reruns("p/2", "fine") == 0
    refused = jobs.update(sooner.id, refuse(T0, "no rule"), expect=expected(sooner))
    assert refused is not None and refused.state == JobState.FAILED and refused.log == "not run: no rule"
    assert [j.id for j in jobs.requested(5)] == [later.id]

"""The rules of a reduction job's life, without services: the core's pure transitions, and a
worker (scireduce's Worker) on the in-memory job store, catalogue, runner and clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from scireduce import JobSpec, RunOutcome, ScireduceSettings, SubprocessRunner, Worker
from scireduce.testing import FakeCatalogue, FakeClock, FakeJobStore, ScriptedRunner, output
from scizoo.core import (
    MAX_ATTEMPTS,
    DatasetIngested,
    DerivedDocuments,
    JobDocument,
    JobState,
    NotCancellable,
    OutputFile,
    Recipe,
    ReductionOutput,
    ReductionRule,
    ReductionRuleSet,
    abandoned,
    build_derived,
    cancel,
    claim,
    claimable,
    derived_pid,
    new_job,
    rerun_name,
    rerun_request,
    retire,
    stale_before,
)

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
RAW = {"_id": "p/1", "pid": "p/1", "type": "raw", "ownerGroup": "A", "accessGroups": ["R"], "instrumentIds": ["sim"],
       "dataFormat": "dat", "datasetName": "sim 1", "scientificMetadata": {"scan_status": {"value": "finished"}}}
EVENT = DatasetIngested(pid="p/1", message_id="m", beamline="sim", proposal_id="A", status="finished", ingested_at=NOW)


def _job(**changes: object) -> JobDocument:
    return new_job("p/1", "fine", "profile", {"bin": {"bins": 2}}, NOW).model_copy(update=changes)


# --- the pure transitions -------------------------------------------------------------------

def test_a_job_is_claimable_while_it_has_attempts_left_and_is_not_settled_or_alive() -> None:
    stale = stale_before(NOW, timeout_s=300, stale_after_s=60)
    assert stale == NOW - timedelta(seconds=360)
    assert claimable(_job(), stale) and claimable(_job(state=JobState.FAILED, attempt=2), stale)
    assert not claimable(_job(state=JobState.FAILED, attempt=MAX_ATTEMPTS), stale)  # tried three times
    assert not claimable(_job(state=JobState.SUCCEEDED, attempt=1), stale)
    assert not claimable(_job(state=JobState.CANCELLED), stale)
    alive = _job(state=JobState.RUNNING, attempt=1, startedAt=NOW - timedelta(seconds=359))
    dead = _job(state=JobState.RUNNING, attempt=1, startedAt=NOW - timedelta(seconds=361))
    assert not claimable(alive, stale) and claimable(dead, stale)
    assert claim(dead, "w2", NOW) == {"state": "running", "worker": "w2", "startedAt": NOW, "updatedAt": NOW,
                                      "attempt": 2}


def test_only_a_queued_or_failed_job_can_be_cancelled_and_the_refusal_says_why() -> None:
    assert cancel(_job(), NOW) == {"state": "cancelled", "updatedAt": NOW, "endedAt": NOW}
    assert cancel(_job(state=JobState.FAILED, attempt=3), NOW)["state"] == "cancelled"
    with pytest.raises(NotCancellable, match="is running on w1; it ends at the latest at its timeout"):
        cancel(_job(state=JobState.RUNNING, worker="w1"), NOW)
    with pytest.raises(NotCancellable, match="has succeeded already"):
        cancel(_job(state=JobState.SUCCEEDED), NOW)
    with pytest.raises(NotCancellable, match="is cancelled already"):
        cancel(_job(state=JobState.CANCELLED), NOW)


def test_both_writers_make_one_shape_and_stored_states_stay_the_same_words() -> None:
    made = new_job("p/1", "fine", "profile", {"bin": {"bins": 2}}, NOW).to_mongo()
    asked = rerun_request("p/1", "fine", 1, {"bin": {"bins": 3}}, requested_by="alice", now=NOW).to_mongo()
    assert made == {"_id": "p/1#fine", "datasetId": "p/1", "rule": "fine", "pipeline": "profile",
                    "params": {"bin": {"bins": 2}}, "state": "queued", "attempt": 0, "createdAt": NOW, "updatedAt": NOW}
    assert asked == {"_id": "p/1#fine.r2", "datasetId": "p/1", "rule": "fine.r2", "params": {"bin": {"bins": 3}},
                     "state": "queued", "attempt": 0, "requestedBy": "alice", "requestedParams": {"bin": {"bins": 3}},
                     "createdAt": NOW, "updatedAt": NOW}  # the same shape; what was asked kept as asked
    assert type(made["state"]) is str  # the word itself, as before
    assert rerun_name("fine", 0) == "fine.r1"
    with pytest.raises(ValidationError):  # strict for what we write
        JobDocument.model_validate({**made, "requestedParam": {}})


def test_a_stored_job_is_read_tolerantly_including_the_rerun_requests_of_before() -> None:
    old = {"_id": "p/1#fine.r1", "datasetId": "p/1", "rule": "fine.r1", "state": "queued", "attempt": 0,
           "requestedParams": {"bin": {"bins": 3}}, "requestedBy": "alice", "createdAt": datetime(2026, 12, 1),
           "someoneElses": 1}
    job = JobDocument.from_stored(old)
    assert job.params == job.requestedParams == {"bin": {"bins": 3}} and job.pipeline is None  # the compatibility read
    assert job.createdAt == NOW.replace(hour=0)  # a BSON date read without its zone is UTC
    with pytest.raises(ValidationError, match="state"):
        JobDocument.from_stored({**old, "state": "exploded"})


def test_the_derived_documents_come_from_the_job_so_a_job_run_twice_writes_the_same() -> None:
    docs = [build_derived(RAW, job_id="p/1#fine", rule="fine", params={}, output=output(), log="ok",
                          plot="data:image/png;base64,AAAA", software="scizoo 0", pid_prefix="20.500", now=NOW)
            for _ in range(2)]
    assert docs[0] == docs[1] and docs[0].dataset.pid == derived_pid("p/1#fine", "20.500")
    assert docs[0].datablock.datasetId == docs[0].dataset.pid and docs[0].datablock.dataFileList[0].chk == "0" * 40
    assert docs[0].plot is not None and docs[0].plot.relationships[0].targetId == docs[0].dataset.pid
    assert docs[0].plot.accessGroups == ["R"] and docs[0].dataset.inputDatasets == ["p/1"]


# --- a worker on the fakes ------------------------------------------------------------------

def _worker(runner: ScriptedRunner, clock: FakeClock, rules: list[ReductionRule] | None = None,
            jobs: FakeJobStore | None = None, name: str = "w1") -> tuple[Worker, FakeJobStore, FakeCatalogue]:
    store = jobs or FakeJobStore()
    catalogue = FakeCatalogue([RAW], {"p/1": ["/raw/scan_1.dat"]})
    rules = rules or [ReductionRule(name="fine", pipeline="profile", params={"bin": {"bins": 2}}, timeout_s=10)]
    settings = ScireduceSettings(work_dir=Path("/nowhere"), pid_prefix="20.500", stale_after_s=5)
    return (Worker(store, catalogue, runner, ReductionRuleSet(rules=rules), settings, worker=name, clock=clock),
            store, catalogue)


def test_a_failing_job_is_tried_three_times_in_all_then_left_failed() -> None:
    runner = ScriptedRunner(RunOutcome(None, "RuntimeError: boom"))
    worker, _, catalogue = _worker(runner, FakeClock())
    seen = [worker.handle(EVENT)[0] for _ in range(5)]  # the event delivered five times
    assert [(j["state"], j["attempt"]) for j in seen] == [("failed", 1), ("failed", 2)] + [("failed", 3)] * 3
    assert len(runner.runs) == 3 and catalogue.writes == 0 and "boom" in seen[-1]["log"]


def test_a_succeeded_job_is_not_run_again_and_writes_its_derived_dataset_once() -> None:
    runner = ScriptedRunner()
    worker, _, catalogue = _worker(runner, FakeClock())
    first = worker.handle(EVENT)[0]
    assert (first["state"], first["attempt"], first["worker"]) == ("succeeded", 1, "w1")
    assert first["derived"] == derived_pid("p/1#fine", "20.500") and set(catalogue.derived) == {first["derived"]}
    assert worker.handle(EVENT)[0] == first and len(runner.runs) == 1
    spec, python, timeout = runner.runs[0]
    assert (spec.raw_path, spec.params, python, timeout) == ("/raw/scan_1.dat", {"bin": {"bins": 2}}, "", 10)


def test_a_dead_workers_job_is_taken_over_only_past_its_timeout_and_once() -> None:
    clock = FakeClock()
    jobs = FakeJobStore()
    job = new_job("p/1", "fine", "profile", {"bin": {"bins": 2}}, clock())
    jobs.create(job)
    jobs.update(job.id, claim(job, "dead", clock()))  # it took the job, then died
    live, _, catalogue = _worker(ScriptedRunner(), clock, jobs=jobs, name="w2")
    clock.advance(14)  # timeout 10 s + stale_after 5 s not yet past
    assert live.sweep() == [] and live.handle(EVENT)[0]["state"] == "running"
    clock.advance(2)
    [taken] = live.sweep()
    assert (taken["state"], taken["attempt"], taken["worker"]) == ("succeeded", 2, "w2")
    assert live.sweep() == [] and catalogue.writes == 1


def test_two_workers_reading_the_same_job_take_it_once() -> None:
    jobs = FakeJobStore()
    clock = FakeClock()
    job = new_job("p/1", "fine", "profile", {}, clock())
    jobs.create(job)
    read_by_both = jobs.get(job.id)
    assert read_by_both is not None
    assert jobs.update(job.id, claim(read_by_both, "a", clock()), expect={"state": "queued", "attempt": 0})
    assert jobs.update(job.id, claim(read_by_both, "b", clock()), expect={"state": "queued", "attempt": 0}) is None
    assert jobs.docs[job.id]["worker"] == "a"


def test_a_requested_rerun_runs_with_merged_parameters_and_a_refused_one_fails_with_why() -> None:
    clock = FakeClock()
    jobs = FakeJobStore([rerun_request("p/1", "fine", 0, {"bin": {"bins": 3}}, requested_by="alice", now=clock()).to_mongo(),
                         rerun_request("p/1", "gone", 0, {}, requested_by="alice",
                                       now=clock() + timedelta(seconds=1)).to_mongo()])
    runner = ScriptedRunner()
    worker, _, _ = _worker(runner, clock, jobs=jobs)
    [ran] = worker.take_requested()  # one per call, oldest first
    assert (ran["rule"], ran["state"], ran["params"]) == ("fine.r1", "succeeded", {"bin": {"bins": 3}})
    assert runner.runs[0][0].params == {"bin": {"bins": 3}}
    assert jobs.docs["p/1#fine.r1"]["requestedParams"] == {"bin": {"bins": 3}}  # kept as asked
    [refused] = worker.take_requested()
    assert refused["state"] == "failed" and refused["attempt"] == MAX_ATTEMPTS and "no rule 'gone'" in refused["log"]
    assert worker.take_requested() == []
    assert worker.rerun("p/1", "fine", {})["rule"] == "fine.r2"  # the next number
    cancelled = worker.cancel(refused["_id"])
    assert cancelled["state"] == "cancelled"
    with pytest.raises(ValueError, match="has succeeded already"):
        worker.cancel(ran["_id"])
    with pytest.raises(LookupError):
        worker.cancel("p/1#nope")


def test_a_run_whose_output_is_not_a_result_fails_the_job_and_not_the_worker(tmp_path: Path) -> None:
    """Before, the worker read the job's last line with json.loads and its fields by name: a
    pipeline that printed after its result (or nothing) raised in the worker, the job left "running"."""
    fake_python = tmp_path / "python"
    fake_python.write_text("#!/bin/sh\ncat > /dev/null\necho 'a result'\necho 'a print after it'\n")
    fake_python.chmod(0o755)
    spec = JobSpec(pipeline="profile", raw_path="/raw", params={}, input_pid="p/1", cache_dir="/c", out_dir="/o",
                   cache_max_bytes=1)
    outcome = SubprocessRunner().run(spec, python=str(fake_python), timeout_s=30)
    assert outcome.output is None and "not its result" in outcome.log and "a print after it" in outcome.log
    silent = tmp_path / "silent"
    silent.write_text("#!/bin/sh\ncat > /dev/null\n")
    silent.chmod(0o755)
    assert SubprocessRunner().run(spec, python=str(silent), timeout_s=30).output is None
    assert "cannot start the job's Python" in SubprocessRunner().run(spec, python=str(tmp_path / "no"),
                                                                     timeout_s=30).log


def test_the_scan_table_shows_a_stored_job_through_the_same_read_and_an_odd_one_with_why() -> None:
    from scanlog_api._reductions import _job_view

    old = {"_id": "p/1#fine.r1", "datasetId": "p/1", "rule": "fine.r1", "state": "queued", "attempt": 0,
           "requestedParams": {"bin": {"bins": 3}}, "requestedBy": "alice", "derived": "d/1"}
    view = _job_view(old, readable_derived=set())
    assert (view["params"], view["state"], view["derived"]) == ({"bin": {"bins": 3}}, "queued", None)
    assert _job_view(old, readable_derived={"d/1"})["derived"] == "d/1"
    odd = _job_view({**old, "state": "exploded"}, readable_derived=set())
    assert odd["state"] == "exploded" and "not a reduction job scizoo can read" in odd["log"]


# --- a run whose output the worker cannot make documents of -----------------------------------

def test_a_result_missing_what_the_documents_need_fails_the_job_with_why(tmp_path: Path) -> None:
    """Before, ``recipe`` and ``summary`` were plain dicts: a result without ``recipe.pipeline``
    (another environment's scizoo, a facility's pipeline) was accepted, and the worker's
    KeyError building the derived dataset ended the worker, the job left "running"."""
    result = {"executed": [], "folder": "/o", "files": [], "summary": {"bins": 2, "points": 6},
              "recipe": {"pipeline_version": "1", "steps": [{"name": "load"}]}}
    fake_python = tmp_path / "python"
    fake_python.write_text(f"#!/bin/sh\ncat > /dev/null\necho '{json.dumps(result)}'\n")
    fake_python.chmod(0o755)
    spec = JobSpec(pipeline="profile", raw_path="/raw", params={}, input_pid="p/1", cache_dir="/c", out_dir="/o",
                   cache_max_bytes=1)
    outcome = SubprocessRunner().run(spec, python=str(fake_python), timeout_s=30)
    assert outcome.output is None
    assert ("not its result (2 problems: recipe.pipeline: Field required; recipe.steps.0.version: Field required)"
            in outcome.log)
    for missing in ({"summary": {"bins": 2}}, {"summary": {"bins": "two", "points": 6}}):
        with pytest.raises(ValidationError):
            ReductionOutput.model_validate({**output().model_dump(), **missing})
    # What a pipeline reports beyond what the documents need is kept in the recipe, as before.
    kept = output().model_copy(update={"recipe": Recipe.model_validate(
        {"pipeline": "profile", "pipeline_version": "1", "steps": [{"name": "load", "version": "2", "key": "k"}],
         "environment": {"python": "/usr/bin/python3"}})})
    built = build_derived(RAW, job_id="p/1#fine", rule="fine", params={}, output=kept, log="", plot=None,
                          software="scizoo 0", pid_prefix="20.500", now=NOW)
    assert json.loads(built.dataset.scientificMetadata["recipe"]["value"]) == kept.recipe.model_dump()
    assert kept.recipe.model_dump()["environment"] == {"python": "/usr/bin/python3"}
    assert built.dataset.usedSoftware == ["scizoo 0", "profile 1", "load 2"]


def test_a_plot_that_cannot_be_read_fails_the_job_with_why_and_not_the_worker(tmp_path: Path) -> None:
    """Before, the OSError reading the plot escaped the worker: its process ended with the event
    uncommitted, and every worker taking the job over ended the same way."""
    gone = output().model_copy(update={"files": [OutputFile(path=str(tmp_path / "profile.png"), size=1)]})
    worker, jobs, catalogue = _worker(ScriptedRunner(RunOutcome(gone, "ran")), FakeClock())
    [job] = worker.handle(EVENT)
    assert (job["state"], job["attempt"]) == ("failed", 1) and catalogue.writes == 0
    assert "ran" in job["log"] and "the derived dataset could not be made: FileNotFoundError" in job["log"]
    assert jobs.docs[job["_id"]]["state"] == "failed"


class _Away(Exception):
    """A store that is away (what a worker's ``store_errors`` name)."""


class _RefusingCatalogue(FakeCatalogue):
    def __init__(self, error: Exception) -> None:
        super().__init__([RAW], {"p/1": ["/raw/scan_1.dat"]})
        self.error = error

    def write_derived(self, documents: DerivedDocuments) -> None:
        raise self.error


def test_a_derived_dataset_the_catalogue_refuses_fails_the_job_but_a_store_away_is_retried() -> None:
    settings = ScireduceSettings(work_dir=Path("/nowhere"), pid_prefix="20.500", stale_after_s=5)
    rules = ReductionRuleSet(rules=[ReductionRule(name="fine", pipeline="profile", timeout_s=10)])
    jobs = FakeJobStore()
    refusing = Worker(jobs, _RefusingCatalogue(ValueError("document too large")), ScriptedRunner(), rules, settings,
                      worker="w1", clock=FakeClock(), store_errors=(_Away,))
    [job] = refusing.handle(EVENT)
    assert job["state"] == "failed" and "ValueError: document too large" in job["log"]
    away = Worker(FakeJobStore(), _RefusingCatalogue(_Away("no primary")), ScriptedRunner(), rules, settings,
                  worker="w1", clock=FakeClock(), store_errors=(_Away,))
    with pytest.raises(_Away):  # the job stays "running": taken over, the attempt counted, once the store is back
        away.handle(EVENT)


# --- jobs whose worker died on their last attempt ----------------------------------------------

def test_a_job_dead_on_its_last_attempt_is_retired_as_failed_saying_so() -> None:
    stale = stale_before(NOW, timeout_s=300, stale_after_s=60)
    started = NOW - timedelta(seconds=361)
    last = _job(state=JobState.RUNNING, attempt=MAX_ATTEMPTS, worker="w1", startedAt=started)
    assert abandoned(last, stale) and not claimable(last, stale)
    assert not abandoned(last.model_copy(update={"startedAt": NOW - timedelta(seconds=359)}), stale)  # alive
    assert not abandoned(last.model_copy(update={"attempt": 2}), stale)  # taken over instead
    assert not abandoned(last.model_copy(update={"state": JobState.FAILED}), stale)
    assert retire(last, NOW, log_tail=4000) == {
        "state": "failed", "endedAt": NOW, "updatedAt": NOW,
        "log": "its worker died on its last attempt (3 of 3; running on w1 since 2026-12-01 11:53:59 UTC)"}
    with pytest.raises(ValueError, match="only a running job with no attempt left is retired"):
        retire(last.model_copy(update={"attempt": 2}), NOW, log_tail=4000)


def test_the_sweep_retires_jobs_dead_on_their_last_attempt_so_live_ones_are_taken_over() -> None:
    """Before, a job whose worker died on its last attempt stayed "running" and came first in
    every sweep (100 at a time), refused each time: with over 100 of them, a dead worker's job
    with attempts left was never taken over."""
    clock = FakeClock()
    jobs = FakeJobStore()
    for n in range(1, 151):  # reruns of the rule, each dead on its last attempt
        dead = new_job("p/1", f"fine.r{n}", "profile", {"bin": {"bins": 2}}, clock())
        jobs.create(dead)
        jobs.update(dead.id, {**claim(dead, "gone", clock()), "attempt": MAX_ATTEMPTS})
    job = new_job("p/1", "fine", "profile", {"bin": {"bins": 2}}, clock())
    jobs.create(job)
    jobs.update(job.id, claim(job, "gone", clock()))  # its first attempt
    settled: list[str] = []
    runner = ScriptedRunner()
    worker, _, catalogue = _worker(runner, clock, jobs=jobs, name="w2")
    worker.settled = settled.append
    clock.advance(14)
    assert worker.sweep() == []  # not yet past their timeout: alive, perhaps
    clock.advance(2)
    swept = worker.sweep() + worker.sweep()
    assert {d["_id"] for d in swept} == set(jobs.docs)  # each once
    live = jobs.docs[job.id]
    assert (live["state"], live["attempt"], live["worker"]) == ("succeeded", 2, "w2") and catalogue.writes == 1
    retired = [d for d in jobs.docs.values() if d["_id"] != job.id]
    assert {(d["state"], d["attempt"], d["worker"]) for d in retired} == {("failed", MAX_ATTEMPTS, "gone")}
    assert all("its worker died on its last attempt (3 of 3; running on gone since" in d["log"] for d in retired)
    assert len(runner.runs) == 1 and settled.count("failed") == 150
    assert worker.sweep() == [] and jobs.running_since_before(clock(), 1000) == []  # none left running


def test_a_job_retired_meanwhile_by_another_worker_is_retired_once() -> None:
    clock = FakeClock()
    jobs = FakeJobStore()
    dead = new_job("p/1", "fine", "profile", {}, clock())
    jobs.create(dead)
    jobs.update(dead.id, {**claim(dead, "gone", clock()), "attempt": MAX_ATTEMPTS})
    clock.advance(16)
    read = jobs.running_since_before(clock(), 10)
    first, _, _ = _worker(ScriptedRunner(), clock, jobs=jobs, name="w1")
    second, _, _ = _worker(ScriptedRunner(), clock, jobs=jobs, name="w2")
    assert [d["state"] for d in first.sweep()] == ["failed"]
    jobs.running_since_before = lambda before, limit: read  # type: ignore[method-assign]  # read before w1's change
    assert second.sweep() == []  # its compare-and-set finds the job changed


def test_with_the_dask_runner_a_job_is_taken_over_only_past_its_time_queued_too() -> None:
    """A worker waits for its Dask job up to the rule's timeout plus SCIREDUCE_DASK_WAIT_S (queued on
    a busy cluster): another worker takes the job over only past that and stale_after_s, or it would
    run twice while its worker is alive."""
    clock = FakeClock()
    jobs = FakeJobStore()
    job = new_job("p/1", "fine", "profile", {"bin": {"bins": 2}}, clock())
    jobs.create(job)
    jobs.update(job.id, claim(job, "waiting", clock()))
    rules = ReductionRuleSet(rules=[ReductionRule(name="fine", pipeline="profile", timeout_s=10)])
    settings = ScireduceSettings(work_dir=Path("/nowhere"), pid_prefix="20.500", stale_after_s=5, runner="dask",
                                 dask_scheduler="tcp://127.0.0.1:8786", dask_wait_s=30)
    assert settings.takeover_after_s == 35
    other = Worker(jobs, FakeCatalogue([RAW], {"p/1": ["/raw/scan_1.dat"]}), ScriptedRunner(), rules, settings,
                   worker="w2", clock=clock)
    clock.advance(44)  # timeout 10 s + stale_after 5 s + queued up to 30 s: not yet past
    assert other.sweep() == [] and other.handle(EVENT)[0]["worker"] == "waiting"
    clock.advance(2)
    [taken] = other.sweep()
    assert (taken["state"], taken["attempt"], taken["worker"]) == ("succeeded", 2, "w2")


def test_a_ctrl_c_at_the_workers_terminal_leaves_its_running_job_to_finish(tmp_path: Path) -> None:
    """A terminal's Ctrl-C goes to its whole foreground process group. Before, that held the job's
    process too, which died of it: the job was recorded failed ("KeyboardInterrupt", seen
    stopping the demo) while the worker, which handles Ctrl-C by finishing its batch, went on."""
    import os
    import signal
    import subprocess
    import sys
    import time

    started = tmp_path / "started"
    job = tmp_path / "python"  # a job that says when it has started, takes a second, says when it ended
    job.write_text(f"#!/bin/sh\ncat > /dev/null\ntouch {started}\nsleep 1\necho 'got to the end' >&2\necho '{{}}'\n")
    job.chmod(0o755)
    worker = (  # stands for the worker: Ctrl-C is its to handle (scizoo.core.until_stopped)
        "import signal, sys\n"
        "from scireduce import JobSpec, SubprocessRunner\n"
        "signal.signal(signal.SIGINT, lambda *_: print('stopping after this job', flush=True))\n"
        "spec = JobSpec(pipeline='profile', raw_path='/raw', params={}, input_pid='p/1', cache_dir='/c',\n"
        "               out_dir='/o', cache_max_bytes=1)\n"
        "print('running', flush=True)\n"
        f"outcome = SubprocessRunner().run(spec, python={str(job)!r}, timeout_s=30)\n"
        "print(repr(outcome.log), flush=True)\n")
    proc = subprocess.Popen([sys.executable, "-c", worker], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)  # a group of its own, as a terminal's foreground one
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "running"
        deadline = time.monotonic() + 20
        while not started.exists():  # the signal must find the job running, or it tells nothing
            assert time.monotonic() < deadline, "the job did not start"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.communicate()
    assert "stopping after this job" in out
    assert "got to the end" in out, out

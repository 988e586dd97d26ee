"""A reduction worker's orchestration: which jobs an event makes, claiming, running, settling.

:class:`Worker` works through small interfaces (:mod:`scireduce._ports`): the job store, the
catalogue, the runner and a clock; the rules of a job's life (claim, finish, fail, refuse,
cancel, rerun names) are the core's pure transitions (:mod:`scizoo.core._jobs`), and the
documents a job makes the core's builder (:func:`scizoo.core.build_derived`). So the claim
and retry rules are tested in a second on the fakes of :mod:`scireduce.testing`. No store
client, no subprocess, no clock of its own here: :class:`scireduce._loop.Reducer` wires it
to MongoDB, the subprocess runner and the system clock.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from scizoo import __version__
from scizoo.core import (
    MAX_GROUP_MEMBERS,
    QUIET_HORIZON,
    DatasetIngested,
    JobDocument,
    JobState,
    NotCancellable,
    OutputFile,
    ReductionRule,
    ReductionRuleSet,
    abandoned,
    base_rule,
    build_derived,
    claim,
    claimable,
    expected,
    fail,
    finish,
    job_id,
    job_provenance,
    merged_params,
    new_job,
    refuse,
    rerun_name,
    retire,
    stale_before,
)
from scizoo.core import cancel as cancel_changes

from ._job import find_pipeline
from ._ports import Catalogue, Clock, JobSpec, JobStore, Runner
from ._settings import ScireduceSettings

logger = logging.getLogger(__name__)
Doc = dict[str, Any]
Rule = ReductionRule
RuleSet = ReductionRuleSet
LOG_TAIL = 4000


class Worker:
    """Runs the jobs of events, reruns, take-overs and cancels; knows nothing of consumer groups."""

    def __init__(self, jobs: JobStore, catalogue: Catalogue, runner: Runner, rules: RuleSet,
                 settings: ScireduceSettings, *, worker: str, clock: Clock,
                 store_errors: tuple[type[Exception], ...] = (),
                 settled: Callable[[str], None] = lambda state: None) -> None:
        """``worker`` names this worker in the jobs it takes; ``store_errors`` are the errors of a
        store that is away, which leave a request queued instead of failing it; ``settled`` is
        told the state of each job that ended (the metrics)."""
        self.jobs, self.catalogue, self.runner, self.rules, self.settings = jobs, catalogue, runner, rules, settings
        self.worker, self.clock, self.store_errors, self.settled = worker, clock, store_errors, settled

    def handle(self, event: DatasetIngested) -> list[Doc]:
        """Run the jobs the rules make of one ingested dataset (each once: a finished job is kept)."""
        dataset = self.catalogue.dataset(event.pid)
        if dataset is None:
            return []
        files = self.catalogue.files_of(event.pid)
        jobs = []
        for rule in self.rules.rules:
            path = rule.input_file(dataset, files)
            if path is None:
                continue
            if rule.group is None:
                jobs.append(self.run(dataset, rule, path))
                continue
            group = self.group(dataset, rule)
            if group is not None:
                # The group's newest scan names the job: the events of every scan of a group
                # as it is now find the same job (run once), and a scan that comes late to a
                # reduced group makes a new one, the earlier result kept.
                newest, newest_path = group[-1]
                jobs.append(self.run(newest, rule, newest_path, group=group))
        return jobs

    def group(self, dataset: Doc, rule: Rule, *, quiet: bool = False) -> list[tuple[Doc, str]] | None:
        """The scans (with the file the rule reduces of each) of ``dataset``'s group under a
        group rule, oldest first, once the group is complete (with ``quiet``: gone quiet counts
        too); None while it is not."""
        assert rule.group is not None
        values = rule.group.values(dataset)
        if values is None:
            logger.info("dataset %s has not every key of rule %s's groups (%s): not reduced", dataset["_id"],
                        rule.name, ", ".join(rule.group.keys))
            return None
        found = self.catalogue.group_of(dataset, values, MAX_GROUP_MEMBERS)
        if len(found) == MAX_GROUP_MEMBERS:
            logger.warning("rule %s: the group of %s holds %d scans or more; its oldest %d are reduced",
                           rule.name, dataset["_id"], MAX_GROUP_MEMBERS, MAX_GROUP_MEMBERS)
        group = [(d, p) for d in found if (p := rule.input_file(d, self.catalogue.files_of(d["_id"]))) is not None]
        if not rule.group.complete([d for d, _ in group], self.clock() if quiet else None):
            logger.info("rule %s: the group of %s (%s) has %d scan(s), not yet complete", rule.name, dataset["_id"],
                        values, len(group))
            return None
        return group

    def _members(self, rule: Rule, pids: list[str]) -> list[tuple[Doc, str]] | None:
        """A group job's own scans (as it was made), with their files; None if one is gone or
        no longer matches its rule (the job is then left as it is, for a person to see)."""
        members = []
        for pid in pids:
            dataset = self.catalogue.dataset(pid)
            path = None if dataset is None else rule.input_file(dataset, self.catalogue.files_of(pid))
            if dataset is None or path is None:
                return None
            members.append((dataset, path))
        return members

    def _claim(self, dataset: Doc, rule: Rule, inputs: list[str] | None = None) -> JobDocument | None:
        """The job to run, or None when it is done, past its attempts, or another (live) worker runs it."""
        now = self.clock()
        self.jobs.create(new_job(dataset["_id"], rule.name, rule.pipeline, rule.params, now, inputs=inputs))
        job = self.jobs.get(job_id(dataset["_id"], rule.name))
        if job is None or not claimable(job, stale_before(now, rule.timeout_s, self.settings.takeover_after_s)):
            return None
        # Two workers may read the same job: the one whose change finds it as read takes it.
        return self.jobs.update(job.id, claim(job, self.worker, now), expect=expected(job))

    def rerun(self, pid: str, rule_name: str, params: dict[str, dict[str, Any]]) -> Doc:
        """Run a rule on a dataset again with changed parameters: a new job and, when it
        succeeds, a new derived dataset (the earlier ones are kept). Raises ``LookupError`` for
        an unknown dataset or rule, ``ValueError`` for parameters the pipeline refuses."""
        dataset, rule, path, merged, group = self._prepare_rerun(pid, rule_name, params)
        name = rerun_name(rule.name, self.jobs.count_reruns(pid, rule.name))
        return self.run(dataset, rule.model_copy(update={"name": name, "params": merged}), path, group=group)

    def _prepare_rerun(self, pid: str, rule_name: str, params: dict[str, dict[str, Any]]
                       ) -> tuple[Doc, Rule, str, dict[str, dict[str, Any]], list[tuple[Doc, str]] | None]:
        """The dataset, its rule, its input file, the merged parameters of a rerun, and under a
        group rule the dataset's group as it is now."""
        dataset = self.catalogue.dataset(pid)
        if dataset is None:
            raise LookupError(f"no dataset {pid!r}")
        rule = next((r for r in self.rules.rules if r.name == rule_name), None)
        if rule is None:
            raise LookupError(f"no rule {rule_name!r}; the rules are: {', '.join(r.name for r in self.rules.rules)}")
        path = rule.input_file(dataset, self.catalogue.files_of(pid))
        if path is None:
            raise ValueError(f"rule {rule.name!r} does not apply to dataset {pid!r} (beamline, format, files, "
                             "conditions or status)")
        group = None
        if rule.group is not None:
            group = self.group(dataset, rule)
            if group is None:
                raise ValueError(f"rule {rule.name!r} reduces groups of scans, and the group of dataset {pid!r} "
                                 f"(by {', '.join(rule.group.keys)}) is not complete")
        merged = merged_params(rule.params, params)
        refused = self.refusal(rule)
        if refused:
            raise ValueError(refused)
        if rule.python:  # the pipeline is installed over there: the job itself checks its parameters
            return dataset, rule, path, merged, group
        try:
            find_pipeline(rule.pipeline).step_params(merged)
        except Exception as err:  # a pydantic ValidationError or an unknown step: say which
            raise ValueError(f"parameters refused by pipeline {rule.pipeline!r}: {err}") from err
        return dataset, rule, path, merged, group

    def refusal(self, rule: Rule) -> str | None:
        """Why this worker will not run a rule's job (None: it will). Rules may come from the
        API, so a module path or another interpreter needs the worker's own consent."""
        if ":" in rule.pipeline and not self.settings.module_pipelines:
            return (f"pipeline {rule.pipeline!r} is a module path; this worker runs registered pipelines only "
                    "(SCIREDUCE_MODULE_PIPELINES=true allows module paths)")
        if rule.python and rule.python not in self.settings.pythons:
            return (f"rule {rule.name!r} names the Python {rule.python!r}, which is not one of this worker's "
                    "SCIREDUCE_PYTHONS")
        return None

    def take_requested(self, limit: int = 1) -> list[Doc]:
        """Run the reruns asked for through the scan table's API (queued jobs with a
        ``requestedBy``), oldest first; one that cannot run fails with the reason in its log.

        One per call by default: the worker polls Kafka between them, so a queue of reruns
        never keeps it from its group (or new scans from their reductions) for long.
        """
        done = []
        for job in self.jobs.requested(limit):
            try:
                asked = job.requestedParams if job.requestedParams is not None else job.params
                dataset, rule, path, merged, group = self._prepare_rerun(job.datasetId, base_rule(job.rule), asked)
            except Exception as err:
                if isinstance(err, self.store_errors):
                    raise  # the store is away: the request stays queued
                if not isinstance(err, (LookupError, ValueError)):
                    err = ValueError(f"{type(err).__name__}: {err}")
                refused = self.jobs.update(job.id, refuse(self.clock(), str(err)), expect=expected(job))
                if refused is not None:
                    self.settled(JobState.FAILED)
                    logger.error("requested rerun %s not run: %s", job.id, err)
                    done.append(refused.to_mongo())
                continue
            # What it runs with: the rule's parameters and those asked for on top (kept as asked).
            self.jobs.update(job.id, {"pipeline": rule.pipeline, "params": merged}, expect=expected(job))
            done.append(self.run(dataset, rule.model_copy(update={"name": job.rule, "params": merged}), path,
                                 group=group))
        return done

    def quiet_groups(self, limit: int = 1000) -> list[Doc]:
        """Run the groups that have gone quiet: under each rule with a quiet time, the groups of
        the scans made in the last :data:`QUIET_HORIZON` beyond it whose newest scan is older
        than the quiet time (no event says a group has gone quiet: the sweep looks). A group
        already run finds its job (named after its newest scan) and is not run again."""
        done = []
        now = self.clock()
        for rule in self.rules.rules:
            if rule.group is None or rule.group.quiet_s is None:
                continue
            until = now - timedelta(seconds=rule.group.quiet_s)
            seen: set[str] = set()
            for scan in self.catalogue.created_between(until - QUIET_HORIZON, until, limit):
                values = rule.group.values(scan)
                if values is None or scan["_id"] in seen:
                    continue
                path = rule.input_file(scan, self.catalogue.files_of(scan["_id"]))
                group = None if path is None else self.group(scan, rule, quiet=True)
                if group is None:
                    continue
                seen.update(str(d["_id"]) for d, _ in group)
                newest, newest_path = group[-1]
                if self.jobs.get(job_id(newest["_id"], rule.name)) is None:
                    done.append(self.run(newest, rule, newest_path, group=group))
        return done

    def sweep(self, limit: int = 100) -> list[Doc]:
        """Take over the jobs whose worker died mid-job: "running" past their rule's timeout
        plus ``takeover_after_s``. Without this, a job whose event another worker had already
        read (and committed, the job then looking alive) would stay "running" for ever. One
        that died on its last attempt is failed, saying so (it leaves the running set). Then
        run the groups that have gone quiet (:meth:`quiet_groups`)."""
        oldest = self.clock() - timedelta(seconds=self.settings.takeover_after_s + min(
            (r.timeout_s for r in self.rules.rules), default=0.0))
        done = []
        for job in self.jobs.running_since_before(oldest, limit):
            # The job's rule, or the rule a rerun ("<rule>.rN") came from.
            base = next((r for r in self.rules.rules if r.name == base_rule(job.rule)), None)
            if base is not None and abandoned(job, stale_before(self.clock(), base.timeout_s,
                                                                self.settings.takeover_after_s)):
                # No attempt left to take it over with: settled, or it would stay "running" and
                # come first in every sweep, keeping the jobs that have attempts left from it.
                retired = self._retire(job)
                if retired is not None:
                    done.append(retired)
                continue
            dataset = self.catalogue.dataset(job.datasetId)
            if base is None or dataset is None:
                continue  # its rule was removed, or the dataset: left as it is, for a person to see
            path = base.input_file(dataset, self.catalogue.files_of(dataset["_id"]))
            if path is None:
                continue
            group = None
            if job.inputIds:
                group = self._members(base, job.inputIds)
                if group is None:
                    continue
            rule = base.model_copy(update={"name": job.rule, "params": job.params or base.params})
            logger.warning("taking over job %s (running on %s since %s, past its timeout)", job.id, job.worker,
                           job.startedAt)
            done.append(self.run(dataset, rule, path, group=group))
        return done + self.quiet_groups()

    def cancel(self, jid: str) -> Doc:
        """Cancel a job that is not running: it is never taken again (a redelivered event
        included). ``LookupError`` if there is no such job, ``ValueError`` if it cannot be."""
        for _ in range(5):  # a worker may take or settle it meanwhile: decided on what it is then
            job = self.jobs.get(jid)
            if job is None:
                raise LookupError(f"no job {jid!r}")
            done = self.jobs.update(jid, cancel_changes(job, self.clock()), expect=expected(job))
            if done is not None:
                return done.to_mongo()
        raise NotCancellable(f"job {jid!r} changes too often to cancel now; try again")

    def run(self, dataset: Doc, rule: Rule, path: str, *, group: list[tuple[Doc, str]] | None = None) -> Doc:
        """Run a rule's job on a dataset (``group``: a group rule's scans, ``dataset`` the newest)."""
        job = self._claim(dataset, rule, [str(d["_id"]) for d, _ in group] if group is not None else None)
        if job is None:
            stored = self.jobs.get(job_id(dataset["_id"], rule.name))
            return stored.to_mongo() if stored is not None else {}
        if job.inputIds and group is not None and job.inputIds != [str(d["_id"]) for d, _ in group]:
            # A retry of a group job: it reduces the scans it was made with.
            group = self._members(rule, job.inputIds)
            if group is None:
                return self._settle(job, fail(self.clock(), "not run: a scan of its group is gone or no longer "
                                                            "matches its rule", log_tail=LOG_TAIL))
        refused = self.refusal(rule)
        if refused:
            return self._settle(job, fail(self.clock(), f"not run: {refused}", log_tail=LOG_TAIL))
        spec = JobSpec(pipeline=rule.pipeline, raw_path=path, params=rule.params, input_pid=dataset["_id"],
                       cache_dir=str(self.settings.work_dir / "cache"), out_dir=str(self.settings.work_dir / "out"),
                       cache_max_bytes=self.settings.cache_max_bytes,
                       group=[(str(d["_id"]), p) for d, p in group] if group is not None else [])
        outcome = self.runner.run(spec, python=rule.python, timeout_s=rule.timeout_s)
        if outcome.output is None:
            return self._settle(job, fail(self.clock(), outcome.log, log_tail=LOG_TAIL))
        now = self.clock()
        try:
            documents = build_derived(dataset, job_id=job.id, rule=rule.name, params=rule.params,
                                      output=outcome.output, log=outcome.log[-LOG_TAIL:],
                                      plot=_plot(outcome.output.files), software=f"scizoo {__version__}",
                                      pid_prefix=self.settings.pid_prefix, now=now,
                                      group=[d for d, _ in group] if group is not None else None)
            self.catalogue.write_derived(documents)
        except Exception as err:
            if isinstance(err, self.store_errors):
                # The store is away: the job stays "running" and is taken over (the attempt
                # counted) once it is back, as if this worker had died.
                raise
            # The job's own result (a plot that cannot be read, a document the catalogue
            # refuses): the job fails with why, and this worker carries on with the next.
            return self._settle(job, fail(now, f"{outcome.log}\nthe derived dataset could not be made: "
                                               f"{type(err).__name__}: {err}", log_tail=LOG_TAIL))
        # What ran it, pinned on the job (the derived file's recipe carries the same).
        provenance = job_provenance(outcome.output.recipe.model_dump(mode="json"), scizoo=__version__)
        return self._settle(job, finish(now, outcome.log, derived=documents.dataset.pid,
                                        executed=outcome.output.executed, log_tail=LOG_TAIL, provenance=provenance))

    def _retire(self, job: JobDocument) -> Doc | None:
        """Fail a job whose worker died on its last attempt; None if it changed meanwhile (another
        worker's sweep retired it, or a person's request changed it)."""
        retired = self.jobs.update(job.id, retire(job, self.clock(), log_tail=LOG_TAIL), expect=expected(job))
        if retired is None:
            return None
        self.settled(JobState.FAILED)
        logger.error("reduction %s failed: %s", job.id, retired.log)
        return retired.to_mongo()

    def _settle(self, job: JobDocument, changes: Doc) -> Doc:
        """Store how a job ended (whatever happened to it meanwhile: this worker ran it)."""
        self.jobs.update(job.id, changes)
        self.settled(changes["state"])
        if changes["state"] == JobState.FAILED:
            logger.error("reduction %s failed: %s", job.id, str(changes["log"]).strip().splitlines()[-1:] or "no log")
        return job.changed(changes).to_mongo()


def _plot(files: list[OutputFile]) -> str | None:
    """The job's plot as a data URL (SciCat keeps an attachment's image in the document)."""
    plot = next((f.path for f in files if f.path.endswith(".png")), None)
    if plot is None:
        return None
    return "data:image/png;base64," + base64.b64encode(Path(plot).read_bytes()).decode()

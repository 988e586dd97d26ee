"""Reduction jobs as the catalogue keeps them: the document, its states, and the transitions.

Shared by the workers (scireduce), which make, claim, finish and fail jobs, and the scan
table's API (scanlog_api), which queues reruns and cancels. The transitions are pure: a job
document and ``now`` in, the fields to set out (or an error saying why not); each side
applies them with its own store call, as a compare-and-set on the job's ``state`` and
``attempt`` (:func:`expected`), which change together at every transition that matters.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Doc = dict[str, Any]
Params = dict[str, dict[str, Any]]


class JobState(StrEnum):
    """The state of a job; a ``str``, so stored values and query strings are these words."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: A job in one of these states may be cancelled: it is never taken again.
CANCELLABLE: Final = frozenset({JobState.QUEUED, JobState.FAILED})
#: How often one job is run in all (a failure, or a worker that died running it, counts).
MAX_ATTEMPTS: Final = 3


class NotCancellable(ValueError):
    """A job that cannot be cancelled (running, or settled); the message says which."""


class JobProvenance(BaseModel):
    """What ran a job (pinned on the job when it succeeded; the derived file's recipe carries the same):
    where (``runner``), in what (``environment``: interpreter, lock hash or image), which pipeline
    and step versions, and which scizoo built the derived documents.

    Kept as reported by the job's own process, which may be another environment's older scizoo:
    unknown fields are kept, not refused."""

    model_config = ConfigDict(extra="allow")

    runner: Annotated[dict[str, str], Field(description="kind (subprocess or dask) and where: host, or scheduler "
                                                        "and worker addresses.")] = {}
    environment: Annotated[dict[str, Any], Field(description="python, python_version, sys_version, lock "
                                                             "(sha256 of its packages), image, scizoo.")] = {}
    pipeline: str = ""
    pipeline_version: str = ""
    steps: Annotated[dict[str, str], Field(description="Each step's version, by name.")] = {}
    scizoo: Annotated[str, Field(description="The scizoo version of the worker that built the documents.")] = ""


def job_provenance(recipe: Doc, *, scizoo: str) -> JobProvenance:
    """A job's provenance from the recipe its run reported (``Recipe.model_dump()``)."""
    return JobProvenance(runner={str(k): str(v) for k, v in (recipe.get("runner") or {}).items()},
                         environment=dict(recipe.get("environment") or {}), pipeline=str(recipe.get("pipeline", "")),
                         pipeline_version=str(recipe.get("pipeline_version", "")),
                         steps={str(s.get("name")): str(s.get("version")) for s in recipe.get("steps", [])},
                         scizoo=scizoo)


class JobDocument(BaseModel):
    """A reduction job in ``ScizooReductionJob``.

    Strict for what we write (every field declared, nothing else accepted, states from
    :class:`JobState`); stored documents are read with :meth:`from_stored`, which is tolerant.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_enum_values=True)

    id: Annotated[str, Field(alias="_id", min_length=1, description="<dataset pid>#<rule> (job_id).")]
    datasetId: Annotated[str, Field(min_length=1)]
    rule: Annotated[str, Field(min_length=1, description="The rule, or a rerun of it (<rule>.r<N>).")]
    #: None on a rerun asked for through the API until a worker takes it.
    pipeline: str | None = None
    #: The parameters the job runs with. On a rerun asked for through the API: the ones asked
    #: for, until a worker takes it and merges them into its rule's (merging again changes nothing).
    params: Params = {}
    state: JobState
    attempt: Annotated[int, Field(ge=0)] = 0
    #: A rerun asked for through the API: by whom, and the parameters asked for (kept as asked).
    requestedBy: str | None = None
    requestedParams: Params | None = None
    worker: str | None = None
    createdAt: AwareDatetime | None = None
    updatedAt: AwareDatetime | None = None
    startedAt: AwareDatetime | None = None
    endedAt: AwareDatetime | None = None
    log: str | None = None
    derived: str | None = None
    executed: list[str] | None = None
    #: What ran it (set when it succeeded): runner, environment, pipeline and step versions, scizoo.
    provenance: JobProvenance | None = None
    #: A group reduction's scans, in the order reduced (its ``datasetId`` is the scan that made
    #: the group complete, or came late to it); None for a job of one scan.
    inputIds: list[str] | None = None

    @classmethod
    def from_stored(cls, doc: Doc) -> JobDocument:
        """A stored job, read tolerantly: fields we do not know are left out, BSON dates read
        without a zone are UTC (what BSON stores), and a rerun request stored before every job
        had ``params`` (only ``requestedParams``) is read with those as its ``params``.
        Raises :class:`pydantic.ValidationError` for a job without id, dataset, rule or a known state."""
        data = {k: v for k, v in doc.items() if k in _STORED_NAMES}
        if "params" not in data and isinstance(doc.get("requestedParams"), dict):
            data["params"] = doc["requestedParams"]  # compatibility: the rerun requests of before
        for name in ("createdAt", "updatedAt", "startedAt", "endedAt"):
            value = data.get(name)
            if isinstance(value, datetime) and value.tzinfo is None:
                data[name] = value.replace(tzinfo=UTC)
        return cls.model_validate(data)

    def to_mongo(self) -> Doc:
        """The document as stored: ``_id`` by its name, states as their words, unset fields absent."""
        return self.model_dump(by_alias=True, exclude_none=True)

    def changed(self, changes: Doc) -> JobDocument:
        """This job with ``changes`` (a transition's fields) applied, validated."""
        return JobDocument.model_validate({**self.to_mongo(), **changes})


_STORED_NAMES = frozenset({"_id", *JobDocument.model_fields} - {"id"})


def job_id(pid: str, rule_name: str) -> str:
    return f"{pid}#{rule_name}"


def rerun_name(rule_name: str, earlier: int) -> str:
    """The name of the next rerun of a rule that has been run again ``earlier`` times."""
    return f"{rule_name}.r{earlier + 1}"


def rerun_pattern(rule_name: str) -> str:
    """A regex matching the names of the reruns of a rule ("<rule>.r<N>")."""
    return rf"^{re.escape(rule_name)}\.r[0-9]+$"


def base_rule(rule_name: str) -> str:
    """The rule a rerun came from ("p.r2" -> "p"); a rule's own name otherwise."""
    return re.sub(r"\.r[0-9]+$", "", rule_name)


def new_job(pid: str, rule_name: str, pipeline: str, params: Params, now: datetime, *,
            inputs: list[str] | None = None) -> JobDocument:
    """The queued job of a rule on a dataset (its id from both, so an event delivered again finds it);
    ``inputs``: a group reduction's scans."""
    return JobDocument(id=job_id(pid, rule_name), datasetId=pid, rule=rule_name, pipeline=pipeline, params=params,
                       state=JobState.QUEUED, attempt=0, createdAt=now, updatedAt=now, inputIds=inputs)


def rerun_request(pid: str, rule_name: str, earlier: int, params: Params, *, requested_by: str,
                  now: datetime) -> JobDocument:
    """The queued job of a rerun asked for through the API: a worker takes it, merges
    ``params`` into the rule's own and runs it (or fails it with the reason)."""
    name = rerun_name(rule_name, earlier)
    return JobDocument(id=job_id(pid, name), datasetId=pid, rule=name, params=params, state=JobState.QUEUED,
                       attempt=0, requestedBy=requested_by, requestedParams=params, createdAt=now, updatedAt=now)


def merged_params(rule_params: Params, asked: Params) -> Params:
    """A rule's parameters with those asked for on top, step by step."""
    return {step: {**rule_params.get(step, {}), **asked.get(step, {})} for step in {*rule_params, *asked}}


def stale_before(now: datetime, timeout_s: float, stale_after_s: float) -> datetime:
    """A job "running" since before this has outlived its worker: its own worker kills it at
    ``timeout_s``, so one still running ``stale_after_s`` later belongs to a worker that died."""
    return now - timedelta(seconds=timeout_s + stale_after_s)


def claimable(job: JobDocument, stale: datetime) -> bool:
    """Whether a worker may take the job: queued, failed, or running on a dead worker (started
    before ``stale``); in all cases only while it has attempts left, so a job past
    :data:`MAX_ATTEMPTS` stays as it is, and a cancelled or succeeded one is never run again."""
    if job.attempt >= MAX_ATTEMPTS:
        return False
    if job.state in (JobState.QUEUED, JobState.FAILED):
        return True
    return job.state == JobState.RUNNING and job.startedAt is not None and job.startedAt < stale


def abandoned(job: JobDocument, stale: datetime) -> bool:
    """Whether a job's worker died on its last attempt: "running" since before ``stale``, with
    no attempt left to take it over with. Unless settled (:func:`retire`), it stays "running"
    for ever, and every sweep for dead workers' jobs finds it again."""
    return (job.state == JobState.RUNNING and job.attempt >= MAX_ATTEMPTS and job.startedAt is not None
            and job.startedAt < stale)


def expected(job: JobDocument) -> Doc:
    """What a compare-and-set expects of the stored job: what it was read as."""
    return {"state": job.state, "attempt": job.attempt}


def claim(job: JobDocument, worker: str, now: datetime) -> Doc:
    """The fields of a job a worker takes (one attempt more)."""
    return {"state": JobState.RUNNING, "worker": worker, "startedAt": now, "updatedAt": now,
            "attempt": job.attempt + 1}


def finish(now: datetime, log: str, *, derived: str, executed: list[str], log_tail: int,
           provenance: JobProvenance | None = None) -> Doc:
    """The fields of a job that made its derived dataset (and what ran it, when known)."""
    done: Doc = {"state": JobState.SUCCEEDED, "log": log[-log_tail:], "endedAt": now, "updatedAt": now,
                 "derived": derived, "executed": executed}
    if provenance is not None:
        done["provenance"] = provenance.model_dump(mode="json")
    return done


def fail(now: datetime, log: str, *, log_tail: int) -> Doc:
    """The fields of a job that failed this attempt (taken again while it has attempts left)."""
    return {"state": JobState.FAILED, "log": log[-log_tail:], "endedAt": now, "updatedAt": now}


def retire(job: JobDocument, now: datetime, *, log_tail: int) -> Doc:
    """The fields of a job whose worker died on its last attempt (:func:`abandoned`): failed,
    saying so, and never taken again. ``ValueError`` for a job not running or with attempts left
    (a worker takes that one over instead)."""
    if job.state != JobState.RUNNING or job.attempt < MAX_ATTEMPTS:
        raise ValueError(f"job {job.id!r} is {job.state} at attempt {job.attempt} of {MAX_ATTEMPTS}: "
                         "only a running job with no attempt left is retired")
    since = f" since {job.startedAt:%Y-%m-%d %H:%M:%S %Z}" if job.startedAt is not None else ""
    return fail(now, f"its worker died on its last attempt ({job.attempt} of {MAX_ATTEMPTS}; running on "
                     f"{job.worker or 'an unknown worker'}{since})", log_tail=log_tail)


def refuse(now: datetime, reason: str) -> Doc:
    """The fields of a requested job that cannot run at all: failed, with no attempt left."""
    return {"state": JobState.FAILED, "attempt": MAX_ATTEMPTS, "log": f"not run: {reason}", "endedAt": now,
            "updatedAt": now}


def cancel(job: JobDocument, now: datetime) -> Doc:
    """The fields of a cancelled job; :class:`NotCancellable` (why) for one running or settled."""
    if job.state == JobState.RUNNING:
        raise NotCancellable(f"job {job.id!r} is running on {job.worker}; it ends at the latest at its timeout")
    if job.state not in CANCELLABLE:
        verb = "is" if job.state == JobState.CANCELLED else "has"
        raise NotCancellable(f"job {job.id!r} {verb} {job.state} already: only a queued or failed job can be cancelled")
    return {"state": JobState.CANCELLED, "updatedAt": now, "endedAt": now}

"""The small interfaces a reduction worker works through, so its rules can be tested without services.

- :class:`JobStore`: the jobs (``ScizooReductionJob``); MongoDB in :mod:`scireduce._store`,
  in memory in :mod:`scireduce.testing`; one behavioural test runs against both
  (tests/system/test_job_store_contract.py).
- :class:`Catalogue`: what a worker reads of a raw dataset and writes of a derived one.
- :class:`Runner`: where a job's pipeline runs (a subprocess of the worker, :mod:`scireduce._runner`,
  or on a Dask cluster, :mod:`scireduce._runner_dask`).
- :data:`Clock`: the time; passed in, so nothing below the loop reads the system clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from scizoo.core import DerivedDocuments, JobDocument, ReductionOutput

Doc = dict[str, Any]
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The clock the loop and the commands pass in."""
    return datetime.now(UTC)


class JobStore(Protocol):
    """The reduction jobs. Changes are compare-and-set where two workers (or a worker and the
    scan table) may race: applied only if the job is still in the ``expect``-ed state and attempt."""

    def create(self, job: JobDocument) -> bool:
        """Store a new job; False (and nothing changed) if one with its id exists."""

    def get(self, job_id: str) -> JobDocument | None: ...

    def update(self, job_id: str, changes: Doc, expect: Doc | None = None) -> JobDocument | None:
        """Set ``changes``; with ``expect``, only if the stored job still has those values.
        The job as it is after, or None when there is no such job or it no longer is as expected."""

    def requested(self, limit: int) -> list[JobDocument]:
        """Queued reruns asked for through the scan table (with ``requestedBy``), oldest first."""

    def running_since_before(self, before: datetime, limit: int) -> list[JobDocument]:
        """Jobs "running" that started before ``before`` (candidates for a take-over)."""

    def count_reruns(self, pid: str, rule_name: str) -> int:
        """How many reruns of a rule a dataset has ("<rule>.r<N>" jobs)."""


class Catalogue(Protocol):
    """What a worker reads of raw datasets and writes of the derived ones."""

    def dataset(self, pid: str) -> Doc | None: ...

    def files_of(self, pid: str) -> list[str]:
        """The paths of a dataset's files (its OrigDatablocks' ``dataFileList``)."""

    def group_of(self, dataset: Doc, values: dict[str, Any], limit: int) -> list[Doc]:
        """The raw datasets of ``dataset``'s owner group and proposals whose scientificMetadata
        ``values`` are these (``dataset`` among them), oldest first, at most ``limit``."""

    def created_between(self, after: datetime, until: datetime, limit: int) -> list[Doc]:
        """Raw datasets with ``after < creationTime <= until``, newest first, at most ``limit``."""

    def write_derived(self, documents: DerivedDocuments) -> None:
        """Write a reduction's documents: the first time whole, again (a job taken over) only what
        the reduction owns, so a derived dataset published or shared meanwhile stays so."""


@dataclass(frozen=True)
class JobSpec:
    """One run of a pipeline on one file (or a group's files): what ``scireduce._job`` reads (as
    JSON) on its stdin."""

    pipeline: str
    raw_path: str
    params: dict[str, dict[str, Any]]
    input_pid: str
    cache_dir: str
    out_dir: str
    cache_max_bytes: int
    #: A group reduction's inputs, (pid, path) per scan in order (``raw_path`` and ``input_pid``
    #: are the first); empty for a job of one scan.
    group: list[tuple[str, str]] = field(default_factory=list)
    #: Where it runs, as the runner says (``kind``: subprocess or dask, and where): kept in the recipe.
    runner: dict[str, str] = field(default_factory=dict)

    def to_json_dict(self) -> Doc:
        return asdict(self)


@dataclass(frozen=True)
class RunOutcome:
    """What a run made (``output``), or None when it failed; ``log`` says what happened either way."""

    output: ReductionOutput | None
    log: str


class Runner(Protocol):
    """Runs one job's pipeline, bounded by ``timeout_s``; ``python`` names another environment's
    interpreter (empty: the worker's own). Never raises for the job's own failure: says it in the outcome."""

    def run(self, spec: JobSpec, *, python: str, timeout_s: float) -> RunOutcome: ...

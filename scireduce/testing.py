"""In-memory stand-ins for a reduction worker's stores and runner, for tests of its rules (as
scitacean ships ``FakeClient``): never imported at runtime.

- :class:`FakeJobStore`: :class:`~scireduce._ports.JobStore` in a dict, with the same
  compare-and-set as the MongoDB store; one behavioural test runs against both
  (tests/system/test_job_store_contract.py).
- :class:`FakeCatalogue`: raw datasets and their files in, derived documents out.
- :class:`ScriptedRunner`: answers each run with the next of the outcomes it was given.
- :class:`FakeClock`: a time that moves only when told.

Here, not in :mod:`scizoo.testing`: they implement this package's interfaces, and
:mod:`scizoo.testing` sits below the deployables.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from scizoo.core import DerivedDocuments, JobDocument, JobState, ReductionOutput, rerun_pattern

from ._ports import Catalogue, JobSpec, JobStore, Runner, RunOutcome

__all__ = ["FakeCatalogue", "FakeClock", "FakeJobStore", "ScriptedRunner", "output"]

Doc = dict[str, Any]


class FakeJobStore:
    """The reduction jobs in memory (stored as documents, read back through the core's read)."""

    def __init__(self, jobs: Iterable[Doc] = ()) -> None:
        self._lock = threading.Lock()
        self.docs: dict[str, Doc] = {str(d["_id"]): dict(d) for d in jobs}

    def create(self, job: JobDocument) -> bool:
        with self._lock:
            if job.id in self.docs:
                return False
            self.docs[job.id] = job.to_mongo()
            return True

    def get(self, job_id: str) -> JobDocument | None:
        doc = self.docs.get(job_id)
        return None if doc is None else JobDocument.from_stored(doc)

    def update(self, job_id: str, changes: Doc, expect: Doc | None = None) -> JobDocument | None:
        with self._lock:
            doc = self.docs.get(job_id)
            if doc is None or any(doc.get(k) != v for k, v in (expect or {}).items()):
                return None
            doc.update(changes)
            return JobDocument.from_stored(doc)

    def requested(self, limit: int) -> list[JobDocument]:
        found = [d for d in self.docs.values() if d.get("state") == JobState.QUEUED and "requestedBy" in d]
        found.sort(key=lambda d: d.get("createdAt") or datetime.min.replace(tzinfo=UTC))
        return [JobDocument.from_stored(d) for d in found[:limit]]

    def running_since_before(self, before: datetime, limit: int) -> list[JobDocument]:
        found = [d for d in self.docs.values()
                 if d.get("state") == JobState.RUNNING and d.get("startedAt") is not None and d["startedAt"] < before]
        return [JobDocument.from_stored(d) for d in found[:limit]]

    def count_reruns(self, pid: str, rule_name: str) -> int:
        pattern = re.compile(rerun_pattern(rule_name))
        return sum(1 for d in self.docs.values() if d.get("datasetId") == pid and pattern.match(str(d.get("rule"))))


class FakeCatalogue:
    """Raw datasets (and their files) given by a test; the derived documents written, by pid."""

    def __init__(self, datasets: Iterable[Doc] = (), files: dict[str, list[str]] | None = None) -> None:
        self.datasets: dict[str, Doc] = {str(d["_id"]): dict(d) for d in datasets}
        self.files = dict(files or {})
        self.derived: dict[str, DerivedDocuments] = {}
        self.writes = 0

    def dataset(self, pid: str) -> Doc | None:
        return self.datasets.get(pid)

    def files_of(self, pid: str) -> list[str]:
        return list(self.files.get(pid, []))

    def group_of(self, dataset: Doc, values: dict[str, Any], limit: int) -> list[Doc]:
        def shares(d: Doc) -> bool:
            meta = d.get("scientificMetadata") or {}
            return (d.get("type") == "raw" and d.get("ownerGroup") == dataset["ownerGroup"]
                    and set(dataset.get("proposalIds") or []) <= set(d.get("proposalIds") or [])
                    and all(isinstance(meta.get(k), dict) and meta[k].get("value") == v for k, v in values.items()))

        found = sorted((d for d in self.datasets.values() if shares(d)),
                       key=lambda d: (d.get("creationTime") or datetime.min.replace(tzinfo=UTC), str(d["_id"])))
        return found[:limit]

    def created_between(self, after: datetime, until: datetime, limit: int) -> list[Doc]:
        found = [d for d in self.datasets.values() if d.get("type") == "raw" and d.get("creationTime") is not None
                 and after < d["creationTime"] <= until]
        return sorted(found, key=lambda d: d["creationTime"], reverse=True)[:limit]

    def write_derived(self, documents: DerivedDocuments) -> None:
        self.derived[documents.dataset.pid] = documents
        self.writes += 1


def output(folder: str = "/out/1", *, executed: Iterable[str] = ("load",), bins: int = 2) -> ReductionOutput:
    """A run's output as a pipeline reports it (one CSV file, no plot)."""
    return ReductionOutput.model_validate({
        "executed": list(executed), "folder": folder, "files": [{"path": f"{folder}/profile.csv", "size": 10,
                                                               "chk": "0" * 40}],
        "recipe": {"pipeline": "profile", "pipeline_version": "1", "steps": [], "params": {}},
        "summary": {"bins": bins, "points": 6}})


class ScriptedRunner:
    """A runner answering each run with the next outcome given (the last one again when they run
    out); the specs it was asked to run are in ``runs``."""

    def __init__(self, *outcomes: RunOutcome) -> None:
        self.outcomes = list(outcomes) or [RunOutcome(output(), "ran")]
        self.runs: list[tuple[JobSpec, str, float]] = []

    def run(self, spec: JobSpec, *, python: str, timeout_s: float) -> RunOutcome:
        self.runs.append((spec, python, timeout_s))
        return self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]


class FakeClock:
    """A clock that moves only when a test moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 12, 1, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


if TYPE_CHECKING:  # the type checker holds the fakes to the interfaces
    _FAKES: tuple[JobStore, Catalogue, Runner] = (FakeJobStore(), FakeCatalogue(), ScriptedRunner())

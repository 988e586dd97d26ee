"""Reduction previews: a rule's pipeline on one scan with changed parameters, answered quickly
for the rules page's pipeline view (the request: :class:`scizoo.core.PreviewDocument`, written
by the scan table).

A worker answers them beside its loop (:func:`serve_previews`, a thread: a preview does not
wait behind a job that takes minutes, nor behind the Kafka poll). Each runs like a job, in a
subprocess (``python -m scireduce._preview``, killed at :data:`scizoo.core.PREVIEW_TIMEOUT_S`), through
the same cache as the jobs: the chained keys make every step upstream of a changed parameter a
cache read, so only what is downstream runs. It returns the final step's curve and which steps
ran; it writes no output files, no job and no derived dataset: nothing enters the catalogue.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pymongo import ASCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import PyMongoError

from scizoo.core import PREVIEW_COLLECTION, PREVIEW_TIMEOUT_S, PreviewCurve, PreviewState, merged_params

from ._cache import ResultCache
from ._job import PARENT_VARIABLE, find_pipeline
from ._pipeline import run_pipeline

if TYPE_CHECKING:
    from ._reducer import Worker

logger = logging.getLogger(__name__)
Doc = dict[str, Any]
#: How often the preview thread looks for requests (an indexed query): bounds the wait before one starts.
PREVIEW_POLL_S = 0.1
LOG_TAIL = 2000


class Previews:
    """Takes the queued previews of the store (oldest first) and answers them with ``worker``'s
    rules, catalogue and settings (its cache folder)."""

    def __init__(self, db: Database[Doc], worker: Worker, *, timeout_s: float = PREVIEW_TIMEOUT_S) -> None:
        self.collection: Collection[Doc] = db[PREVIEW_COLLECTION]
        self.worker, self.timeout_s = worker, timeout_s
        self.process = PreviewProcess()

    def take(self, limit: int = 1) -> list[Doc]:
        """Answer up to ``limit`` queued previews; each is claimed once (another worker's claim wins)."""
        done = []
        for _ in range(limit):
            now = self.worker.clock()
            claimed = self.collection.find_one_and_update(
                {"state": PreviewState.QUEUED}, {"$set": {"state": PreviewState.RUNNING, "worker": self.worker.worker,
                                                          "startedAt": now}},
                sort=[("createdAt", ASCENDING)], return_document=ReturnDocument.AFTER)
            if claimed is None:
                break
            try:
                changes = self._answer(claimed)
            except PyMongoError:
                raise  # the store is away: the thread says so and tries again
            except Exception as err:  # said to the person who asked, and logged; the thread goes on
                logger.exception("reduction preview %s not answered", claimed["_id"])
                changes = _failed(f"not answered: {type(err).__name__}: {err}"[:LOG_TAIL])
            changes["endedAt"] = self.worker.clock()
            self.collection.update_one({"_id": claimed["_id"]}, {"$set": changes})
            done.append({**claimed, **changes})
        return done

    def _answer(self, preview: Doc) -> Doc:
        """The fields that settle a preview: its curve and steps, or why not."""
        try:
            spec = self._spec(preview)
        except (LookupError, ValueError) as err:
            return _failed(str(err))
        try:
            answer = self.process.ask(spec, self.timeout_s)
        except TimeoutError:
            return _failed(f"stopped after {self.timeout_s:g} s: a preview is for a quick look; the rule's jobs "
                           "run as long as its timeout allows")
        except OSError as err:
            return _failed(f"the preview process ended: {err}")
        if "error" in answer:
            return _failed(f"the pipeline failed: {str(answer['error'])[-LOG_TAIL:]}")
        try:
            curve = PreviewCurve.model_validate(answer["result"])
        except (ValueError, KeyError, TypeError) as err:  # ValidationError is a ValueError
            return _failed(f"the pipeline's final result is not a curve of x, y and sigma: {err}"[:LOG_TAIL])
        return {"state": PreviewState.DONE, "result": curve.model_dump(), "steps": answer["steps"],
                "executed": answer["executed"]}

    def _spec(self, preview: Doc) -> Doc:
        """What the subprocess runs: the rule's pipeline on the scan's file, with the rule's
        parameters and those asked for on top; the rule must still apply to the scan."""
        worker = self.worker
        rule = next((r for r in worker.rules.rules if r.name == preview.get("rule")), None)
        if rule is None:
            raise LookupError(f"the workers have no rule {preview.get('rule')!r} (any more)")
        if rule.group is not None:
            raise ValueError(f"rule {rule.name!r} reduces groups of scans: previews are of one scan's rules")
        refused = worker.refusal(rule)
        if refused or rule.python:
            # A rule's own environment holds its pipeline: this worker's Python may not have it.
            raise ValueError(refused or f"rule {rule.name!r} runs in another Python environment: no preview")
        pid = str(preview.get("datasetId"))
        dataset = worker.catalogue.dataset(pid)
        path = None if dataset is None else rule.input_file(dataset, worker.catalogue.files_of(pid))
        if path is None:
            raise LookupError(f"rule {rule.name!r} does not apply to dataset {pid!r} (any more)")
        params = merged_params(rule.params, preview.get("params") or {})
        try:
            find_pipeline(rule.pipeline).step_params(params)
        except (ValidationError, ValueError, KeyError, TypeError, ImportError) as err:
            raise ValueError(f"parameters refused by pipeline {rule.pipeline!r}: {err}") from err
        settings = worker.settings
        return {"pipeline": rule.pipeline, "raw_path": path, "params": params,
                "cache_dir": str(settings.work_dir / "cache"), "cache_max_bytes": settings.cache_max_bytes}


class PreviewProcess:
    """One warm subprocess that answers previews, a spec per line on its stdin, an answer per
    line on its stdout. Warm because a person waits: a fresh Python importing scireduce takes
    most of a second on a busy machine, more than the steps downstream of a change. Still a
    process of its own, as a job is: a pipeline that crashes it or hangs past the timeout is
    killed, and the next preview starts another."""

    def __init__(self, python: str = "") -> None:
        self.python = python or sys.executable
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            # The process dies with this one (scireduce._job._die_with_parent); its stderr is the worker's.
            env = {**os.environ, PARENT_VARIABLE: str(os.getpid())}
            # Its own process group, as a job's (scireduce._runner): a Ctrl-C is the worker's to handle.
            self._proc = subprocess.Popen([self.python, "-m", "scireduce._preview"],  # noqa: S603
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, process_group=0)
        return self._proc

    def ask(self, spec: Doc, timeout_s: float) -> Doc:
        """The answer to one spec; ``TimeoutError`` (the process killed) when none came in time,
        ``OSError`` when the process ended without one."""
        proc = self.start()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(spec).encode() + b"\n")
            proc.stdin.flush()
        except OSError as err:
            self.close()
            raise OSError(f"it could not be given the preview: {err}") from err
        line = self._line(proc, timeout_s)
        try:
            answer: Doc = json.loads(line)
        except ValueError as err:  # not an answer of this process's main(): start afresh
            self.close()
            raise OSError(f"its answer was not JSON ({err}): {line[:200]!r}") from err
        return answer

    def _line(self, proc: subprocess.Popen[bytes], timeout_s: float) -> bytes:
        """One answer line, against a deadline for the whole line: read from the descriptor as
        bytes come (never a buffered readline, which would wait past the deadline for a newline)."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(left, 0.0))
            if not ready:
                self.close()
                raise TimeoutError(f"no answer in {timeout_s:g} s")
            got = os.read(fd, 65536)
            if not got:
                code = proc.wait(5)
                self.close()
                raise OSError(f"exit code {code} without an answer (its log is the worker's)")
            line += got
        return line

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait(5)
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):  # a pipe of a killed process
                        pipe.close()


def _failed(reason: str) -> Doc:
    return {"state": PreviewState.FAILED, "error": reason}


def serve_previews(previews: Previews, stop: threading.Event, *, poll_s: float = PREVIEW_POLL_S) -> None:
    """Answer previews until ``stop`` is set (a worker's thread). A store that is away is said
    and tried again; the requests stay queued."""
    try:
        while not stop.wait(poll_s):
            try:
                while previews.take() and not stop.is_set():
                    pass
            except PyMongoError as err:
                logger.warning("reduction previews not taken (%s: %s); trying again", type(err).__name__, err)
                stop.wait(2.0)
    finally:
        previews.process.close()


def start_previews(db: Database[Doc], worker: Worker, stop: threading.Event) -> threading.Thread:
    """The preview thread of a worker, started (one call in the worker's loop), its process warm."""
    previews = Previews(db, worker)
    previews.process.start()
    thread = threading.Thread(target=serve_previews, args=(previews, stop), name="previews", daemon=True)
    thread.start()
    return thread


def run(spec: Doc) -> Doc:
    """The subprocess's work: the pipeline through the cache; the final step's curve and which steps ran."""
    pipeline = find_pipeline(spec["pipeline"])
    cache = ResultCache(Path(spec["cache_dir"]), int(spec.get("cache_max_bytes", 256 * 1024 * 1024)))
    done = run_pipeline(pipeline, Path(spec["raw_path"]), spec.get("params", {}), cache)
    final = done.results[pipeline.steps[-1].name]
    return {"steps": [s.name for s in pipeline.steps], "executed": done.executed,
            "result": {k: final.get(k) for k in ("x", "y", "sigma")}}


def main() -> None:
    """Answer specs line by line until stdin closes: a pipeline's error is its answer (the
    process carries on); only a crash or a hang ends it (killed by the worker)."""
    from ._job import _die_with_parent

    _die_with_parent()
    # The answers' own channel, a copy of fd 1; fd 1 itself and sys.stdout then go to stderr (the
    # worker's log): what a step prints, or its C library or child process writes to fd 1, never
    # lands between two answers nor leaves half a line that the worker would wait on.
    sys.stdout.flush()
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for line in sys.stdin:
        try:
            answer = run(json.loads(line))
        except Exception as err:  # noqa: BLE001 - the pipeline's own failure, told to the person who asked
            answer = {"error": "".join(traceback.format_exception_only(err)).strip()}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()

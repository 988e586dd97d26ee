"""A real Dask cluster on this machine for the Dask runner's tests and benchmark: a ``dask scheduler``
process and ``dask worker`` processes (each a nanny and its worker process, one thread: one job at
a time), started with the project's interpreter in the repository (so ``tests.reduce_pipelines``
imports on the workers), each in a session of its own so stopping it stops its children."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.helpers import ROOT, wait_for


def _dask(*args: str) -> list[str]:
    """The ``dask`` command of this interpreter's environment."""
    return [str(Path(sys.executable).parent / "dask"), *args]


class LocalDaskCluster:
    """``dask scheduler`` and ``workers`` ``dask worker`` processes; :meth:`stop` ends them all."""

    def __init__(self, folder: Path, *, workers: int, env: dict[str, str] | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.env = {**os.environ, **(env or {})}
        self.processes: list[subprocess.Popen[bytes]] = []
        scheduler_file = folder / "scheduler.json"
        self._start("scheduler", _dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                       "--scheduler-file", str(scheduler_file)))
        wait_for(lambda: scheduler_file.exists() and scheduler_file.stat().st_size > 0, timeout=60,
                 what="the Dask scheduler")
        self.address: str = json.loads(scheduler_file.read_text())["address"]
        for n in range(workers):
            self.add_worker(f"w{n + 1}")
        self.wait_for_workers(workers)

    def _start(self, name: str, command: list[str]) -> None:
        log = (self.folder / f"{name}.log").open("wb")
        self.processes.append(subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,
                                               stderr=subprocess.STDOUT, start_new_session=True))
        log.close()

    def add_worker(self, name: str) -> None:
        self._start(name, _dask("worker", self.address, "--nworkers", "1", "--nthreads", "1", "--name", name,
                                "--no-dashboard", "--local-directory", str(self.folder / name)))

    def wait_for_workers(self, count: int, timeout: float = 90) -> None:
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(count, timeout=timeout)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in reversed(self.processes):
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:  # whatever is left of its session (a nanny's worker, a job)
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()

    def __enter__(self) -> LocalDaskCluster:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

"""Where a job's pipeline runs, at the facility's scale: a task on a Dask cluster (``SCIREDUCE_RUNNER=dask``).

Dask distributed, because it is what facilities already run for Python analysis, the same
client reaches a cluster on Kubernetes (dask-kubernetes' operator) and on a batch system
(dask-jobqueue: Slurm, PBS, SGE, LSF) through one scheduler address, and it runs here for
real (``dask scheduler`` and ``dask worker`` processes in the tests). Ray would need its own
cluster manager; Celery a broker and no batch-system reach.

The scireduce worker keeps everything that decides a job's life: it claims the job in the
store (compare-and-set), waits for the result and settles the job; Dask is only where the
pipeline runs. On the dask worker the job is still a subprocess (:class:`~scireduce._runner.SubprocessRunner`):
a crash, a hang or a leak never touches the dask worker, and the job is killed at its rule's timeout.

What can happen, and what follows:

- a dask worker process dies mid-job (SIGKILL, OOM, a node lost): its job process dies with
  it (``scireduce._job``), and the scheduler runs the task again on another worker; the job's
  log says so. The same outputs are written again, and the derived dataset's pid comes from
  the job: one derived dataset.
- the task's workers die more than the scheduler allows (``distributed.scheduler.allowed-failures``):
  the job fails this attempt, saying so, and is taken again while it has attempts left.
- no result within the rule's timeout plus ``SCIREDUCE_DASK_WAIT_S`` (queued behind other
  work on a busy cluster): the task is cancelled and the job fails this attempt.
- the scheduler cannot be reached: :class:`~scizoo.core.DependencyUnavailable`, and the
  worker stops as it does for a store that is away: the job stays "running" and is taken
  over once it is past its timeout, its attempt counted.
- the scireduce worker dies while its task runs: the task ends by its timeout, and another
  worker's sweep takes the job over (as for a subprocess).
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from scizoo.core import DependencyUnavailable

from ._ports import JobSpec, RunOutcome
from ._runner import SubprocessRunner

if TYPE_CHECKING:
    from distributed import Client

logger = logging.getLogger(__name__)

_HINT = ("check SCIREDUCE_DASK_SCHEDULER (e.g. tcp://dask-scheduler:8786) and that the scheduler runs; "
         "SCIREDUCE_RUNNER=subprocess runs jobs on the worker itself")


def run_on_dask_worker(spec: JobSpec, python: str, timeout_s: float, scheduler: str) -> RunOutcome:
    """The task: the job as a subprocess of the dask worker, which names itself in the recipe."""
    from distributed import get_worker

    worker = get_worker()
    where = {"kind": "dask", "scheduler": scheduler, "worker": str(worker.address), "host": socket.gethostname()}
    outcome = SubprocessRunner().run(replace(spec, runner=where), python=python, timeout_s=timeout_s)
    return RunOutcome(outcome.output, f"on Dask worker {worker.address} ({worker.name})\n{outcome.log}")


class DaskRunner:
    """:class:`~scireduce._ports.Runner` on a Dask scheduler: one client per scireduce worker,
    made at the first job (or :meth:`start`), one task per job.

    ``wait_s``: how long beyond a job's own timeout its result may take (time queued on a busy
    cluster, a re-run after a lost worker). ``security``: a ``distributed.Security`` for a
    ``tls://`` scheduler (a scheduler runs whatever its clients send: reach it by TLS with
    client certificates, or only from inside the facility's network).
    """

    def __init__(self, scheduler: str, *, wait_s: float = 300.0, connect_timeout_s: float = 10.0,
                 security: Any = None) -> None:
        self.scheduler, self.wait_s, self.connect_timeout_s, self.security = (scheduler, wait_s, connect_timeout_s,
                                                                              security)
        self._client: Client | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Connect now (a worker at its start): an unreachable scheduler fails it at once, in one sentence."""
        self._connected()

    def _connected(self) -> Client:
        from distributed import Client

        with self._lock:
            if self._client is None:
                try:
                    self._client = Client(self.scheduler, timeout=self.connect_timeout_s, set_as_default=False,
                                          security=self.security)
                except (OSError, TimeoutError, ValueError) as err:
                    raise DependencyUnavailable(service="scireduce", dependency="the Dask scheduler",
                                                address=self.scheduler, reason=f"{type(err).__name__}: {err}",
                                                hint=_HINT) from err
            return self._client

    def run(self, spec: JobSpec, *, python: str, timeout_s: float) -> RunOutcome:
        from distributed import KilledWorker

        client = self._connected()
        key = f"scireduce-{uuid.uuid4().hex}"
        future = client.submit(run_on_dask_worker, spec, python, timeout_s, self.scheduler, key=key, pure=False)
        try:
            outcome: RunOutcome = future.result(timeout=timeout_s + self.wait_s)
            reruns = _times_lost(client, key)
        except TimeoutError:
            future.cancel()
            return RunOutcome(None, f"no result from the Dask cluster at {self.scheduler} within {timeout_s:g} s "
                                    f"(the rule's timeout) + {self.wait_s:g} s (SCIREDUCE_DASK_WAIT_S): queued behind "
                                    "other work, or its workers lost; the task is cancelled")
        except KilledWorker as err:
            return RunOutcome(None, f"the Dask workers that ran it died, each while running it, as many times as the "
                                    f"scheduler allows (distributed.scheduler.allowed-failures): {err}")
        except OSError as err:  # the scheduler went away mid-job
            raise DependencyUnavailable(service="scireduce", dependency="the Dask scheduler", address=self.scheduler,
                                        reason=f"{type(err).__name__}: {err}", hint=_HINT) from err
        except Exception as err:
            from concurrent.futures import CancelledError

            if isinstance(err, CancelledError):  # the client lost the scheduler: not the job's fault
                raise DependencyUnavailable(service="scireduce", dependency="the Dask scheduler",
                                            address=self.scheduler, reason=f"the job's task was lost: {err}",
                                            hint=_HINT) from err
            # The task itself raised on the worker (its environment cannot run scireduce, say).
            return RunOutcome(None, f"the job could not run on the Dask cluster at {self.scheduler}: "
                                    f"{type(err).__name__}: {err}")
        finally:
            future.release()
        if reruns:
            logger.warning("job on %s (%s) was run again by Dask: %d worker(s) died running it", spec.input_pid, key,
                           reruns)
            return RunOutcome(outcome.output, f"run again by Dask: {reruns} worker(s) died while running it\n"
                                              f"{outcome.log}")
        return outcome

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _times_lost(client: Client, key: str) -> int:
    """How many workers died while running the task (the scheduler's count; 0 if it cannot tell)."""

    def suspicious(dask_scheduler: Any) -> int:  # defined here: pickled by value, the scheduler needs no scizoo
        task = dask_scheduler.tasks.get(key)
        return int(getattr(task, "suspicious", 0)) if task is not None else 0

    try:
        return int(client.run_on_scheduler(suspicious))
    except Exception as err:  # noqa: BLE001 - a note in the job's log, never its outcome
        logger.debug("the scheduler did not say whether %s was run again: %s", key, err)
        return 0

"""Where a job's pipeline runs: a subprocess of the worker (or of another environment's Python).

A crash, a hang or a leak in a pipeline never touches the worker: the subprocess is killed
at the rule's timeout, and whatever happened comes back as a :class:`RunOutcome`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import replace

from pydantic import ValidationError

from scizoo.core import DependencyUnavailable, ReductionOutput

from ._job import PARENT_VARIABLE
from ._ports import JobSpec, Runner, RunOutcome
from ._settings import ScireduceSettings


class SubprocessRunner:
    """:class:`~scireduce._ports.Runner`: ``python -m scireduce._job`` with the spec on its stdin;
    its stderr is the log, the last line of its stdout the :class:`ReductionOutput`."""

    def run(self, spec: JobSpec, *, python: str, timeout_s: float) -> RunOutcome:
        python = python or sys.executable
        if not spec.runner:
            spec = replace(spec, runner={"kind": "subprocess", "host": socket.gethostname()})
        # The job dies with this process (scireduce._job): nothing of it outlives a runner killed.
        env = {**os.environ, PARENT_VARIABLE: str(os.getpid())}
        try:
            # In a process group of its own: a Ctrl-C at the worker's terminal reaches the worker,
            # which finishes this job and stops (scizoo.core.until_stopped), not the job, which
            # was failed by it ("KeyboardInterrupt", seen stopping the demo).
            done = subprocess.run([python, "-m", "scireduce._job"], input=json.dumps(spec.to_json_dict()),  # noqa: S603
                                  text=True, capture_output=True, timeout=timeout_s, check=False, env=env,
                                  process_group=0)
        except OSError as err:  # the rule's environment is not there (or not runnable)
            return RunOutcome(None, f"cannot start the job's Python {python!r}: {err}")
        except subprocess.TimeoutExpired as err:
            log = err.stderr.decode(errors="replace") if isinstance(err.stderr, bytes) else (err.stderr or "")
            return RunOutcome(None, f"{log}\nkilled after its timeout of {timeout_s:g} s")
        if done.returncode != 0:
            return RunOutcome(None, done.stderr)
        last = (done.stdout.strip().splitlines() or [""])[-1]
        try:
            output = ReductionOutput.model_validate_json(last)
        except ValidationError as err:
            # A pipeline that printed after the result, or another environment's older scizoo:
            # the job fails with what was read, never the worker.
            # Which fields, so a person sees what the job's environment reports differently.
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'the result'}: {e['msg']}"
                                 for e in err.errors()[:5])
            return RunOutcome(None, f"{done.stderr}\nthe job's last line of output is not its result "
                                    f"({err.error_count()} problems: {problems}): {last[:300]!r}")
        return RunOutcome(output, done.stderr)


def runner_for(settings: ScireduceSettings) -> Runner:
    """The runner the settings name: a subprocess here, or a task on the Dask scheduler
    (:mod:`scireduce._runner_dask`, imported only then: the ``dask`` extra is optional)."""
    if settings.runner != "dask":
        return SubprocessRunner()
    try:
        from ._runner_dask import DaskRunner
    except ImportError as err:
        raise DependencyUnavailable(service="scireduce", dependency="the Dask client (distributed)",
                                    address=settings.dask_scheduler, reason=str(err),
                                    hint="install scizoo's 'dask' extra: pip install 'scizoo[reduce,dask]'") from err
    security = None
    if settings.dask_tls_ca_file is not None:
        from distributed import Security

        security = Security(tls_ca_file=str(settings.dask_tls_ca_file),
                            tls_client_cert=str(settings.dask_tls_cert_file),
                            tls_client_key=str(settings.dask_tls_key_file), require_encryption=True)
    return DaskRunner(settings.dask_scheduler, wait_s=settings.dask_wait_s,
                      connect_timeout_s=settings.dask_connect_timeout_s, security=security)


def start_runner(runner: Runner) -> None:
    """Connect a runner that has somewhere to connect to (a worker at its start: fail at once)."""
    start = getattr(runner, "start", None)
    if callable(start):
        start()


def close_runner(runner: Runner) -> None:
    close = getattr(runner, "close", None)
    if callable(close):
        close()

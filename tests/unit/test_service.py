"""What every long-running command shares (scizoo.core._service), in a process of its own."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

#: A service that waits to be stopped, with a worker thread: both stacks must be written.
SERVICE = """
import threading
from scizoo.core._service import run_service

def worker_waits(stop):
    stop.wait()

def waiting_here(stop):
    worker = threading.Thread(target=worker_waits, args=(stop,))
    worker.start()
    print("ready", flush=True)
    stop.wait()
    worker.join()

run_service(waiting_here, verbose=False, debug=False)
print("stopped", flush=True)
"""


def test_sigusr1_writes_every_threads_stack_and_the_service_goes_on() -> None:
    proc = subprocess.Popen([sys.executable, "-c", SERVICE], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGUSR1)
        time.sleep(0.5)
        assert proc.poll() is None  # still running
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert out == "stopped\n" and proc.returncode == 0
    assert "in waiting_here" in err and "in worker_waits" in err, err


def test_a_consumers_network_thread_is_woken_while_a_block_runs_and_not_after() -> None:
    """kafka_records.nudged: a lost wake-up held a scicow's poll for two minutes after a broker
    restart; the client's own wakeup() is called every period while the block runs."""
    import threading
    import time
    from types import SimpleNamespace

    from scizoo.ops.kafka_records import nudged

    woken: list[float] = []
    consumer = SimpleNamespace(_client=SimpleNamespace(wakeup=lambda: woken.append(time.monotonic())))
    with nudged(consumer, every_s=0.05):  # type: ignore[arg-type]
        time.sleep(0.5)
    seen = len(woken)
    assert seen >= 5, woken
    time.sleep(0.2)
    assert len(woken) == seen  # stopped with the block
    assert not any(t.name == "kafka-nudge" for t in threading.enumerate())
    with nudged(SimpleNamespace()):  # type: ignore[arg-type]  # a client without wakeup(): nothing done
        pass

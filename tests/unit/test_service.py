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

"""A service that cannot reach a dependency at start says which, where, in one sentence, and exits 2."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from scizoo.testing import free_port

pytestmark = pytest.mark.system


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scizoo.cli", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, check=False)


def _one_sentence(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_scicow_without_a_store() -> None:
    port = free_port()
    line = _one_sentence(_run(["scicow", "run"], {
        "SCICOW_MONGO_URI": f"mongodb://reader:s3cret@127.0.0.1:{port}", "SCICOW_CONNECT_TIMEOUT_S": "1"}))
    assert line.startswith(f"error: scicow cannot reach MongoDB at mongodb://reader:***@127.0.0.1:{port}")
    assert "s3cret" not in line and "SCICOW_MONGO_URI" in line


def test_scicow_without_a_broker(mongo) -> None:
    port = free_port()
    line = _one_sentence(_run(["scicow", "run"], {
        "SCICOW_MONGO_URI": mongo.uri, "SCICOW_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}", "SCICOW_CONNECT_TIMEOUT_S": "2"}))
    assert line.startswith(f"error: scicow cannot reach Kafka at 127.0.0.1:{port}")


def test_scanlog_without_a_store() -> None:
    port = free_port()
    line = _one_sentence(_run(["scanlog", "serve", "--port", str(free_port())], {
        "SCANLOG_MONGO_URI": f"mongodb://127.0.0.1:{port}", "SCANLOG_CONNECT_TIMEOUT_S": "1"}))
    assert line.startswith(f"error: scanlog cannot reach MongoDB at mongodb://127.0.0.1:{port}")


def test_a_bad_setting_is_one_sentence_too() -> None:
    line = _one_sentence(_run(["scicow", "redrive"], {"SCICOW_BATCH_MAX": "many"}))
    assert line.startswith("error: invalid settings: batch_max:")


@pytest.mark.parametrize(("service", "prefix"), [("scanlog", "SCANLOG"), ("scidog", "SCIDOG")])
def test_a_web_service_writes_its_threads_stacks_on_sigusr1_and_goes_on(mongo, db, service: str, prefix: str) -> None:
    """As the consumers do (scizoo.core.stacks_on_sigusr1): where a service that makes no progress waits."""
    import signal
    import time
    import urllib.request

    port = free_port()
    env = {**os.environ, f"{prefix}_MONGO_URI": mongo.uri, f"{prefix}_DATABASE": db.name}
    proc = subprocess.Popen([sys.executable, "-m", "scizoo.cli", service, "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, f"{service} did not come up"
                time.sleep(0.3)
        proc.send_signal(signal.SIGUSR1)
        time.sleep(1.0)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            assert answer.status == 200  # still serving
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "most recent call first" in err and "uvicorn" in err, err[-2000:]

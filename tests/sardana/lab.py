"""A real Sardana on one machine: Tango database (sqlite), one Sardana server with Pool,
MacroServer and Door, our recorder on its RecorderPath. See RECIPES.md.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from scizoo.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
INSTANCE = "scizootest"
POOL, MACROSERVER, DOOR = "pool/test/1", "macroserver/test/1", "door/test/1"


class SardanaLab:
    """Start with ``with SardanaLab(folder, env) as lab:``; ``env`` is added to the server's environment."""

    def __init__(self, folder: Path, env: dict[str, str], recorder_path: str) -> None:
        self.folder = folder
        self.port = free_port()
        self.tango_host = f"127.0.0.1:{self.port}"
        self.env = {**os.environ, "TANGO_HOST": self.tango_host, **env}
        self.recorder_path = recorder_path
        self._procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[Any] = []

    def _spawn(self, args: list[str], log: str) -> subprocess.Popen[bytes]:
        out = (self.folder / log).open("wb")
        self._logs.append(out)
        proc = subprocess.Popen(
            args, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=self.folder
        )
        self._procs.append(proc)
        return proc

    def _wait(self, what: str, check: Any, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            for proc in self._procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}; see {self.folder}")
            try:
                if check():
                    return
            except Exception as err:  # noqa: BLE001 - not up yet
                last = err
            time.sleep(0.3)
        raise TimeoutError(f"{what} did not come up in {timeout:.0f} s: {last}")

    def __enter__(self) -> SardanaLab:
        import tango

        self.env["PYTANGO_DATABASE_NAME"] = str(self.folder / "tango.db")
        try:
            self._spawn(
                [sys.executable, "-m", "tango.databaseds.database", "--db_access", "sqlite3",
                 "--port", str(self.port), "2"],
                "databaseds.log",
            )
            self._wait("the Tango database", lambda: self._database().get_server_list("*") is not None)
            self._register()
            self._spawn(
                [str(Path(sys.executable).parent / "Sardana"), INSTANCE, "-ORBendPoint", "giop:tcp:127.0.0.1:0"],
                "sardana.log",
            )
            door = f"tango://{self.tango_host}/{DOOR}"
            self._wait("the Door", lambda: tango.DeviceProxy(door).state() == tango.DevState.ON, timeout=90)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _database(self) -> Any:
        import tango

        host, port = self.tango_host.split(":")
        return tango.Database(host, int(port))

    def _register(self) -> None:
        import tango

        db = self._database()
        for cls, name in (("Pool", POOL), ("MacroServer", MACROSERVER), ("Door", DOOR)):
            info = tango.DbDevInfo()
            info.server, info._class, info.name = f"Sardana/{INSTANCE}", cls, name
            db.add_device(info)
        db.put_device_property(MACROSERVER, {
            "PoolNames": [POOL],
            "RecorderPath": [self.recorder_path],
            "EnvironmentDb": [str(self.folder / "macroserver.env")],
        })
        db.put_device_alias(POOL, "pool_test")

    def run(self, plan: dict[str, Any], timeout: float = 120) -> list[dict[str, Any]]:
        """Run macros through the Door in a driver process; returns one dict per macro."""
        out = subprocess.run(
            [sys.executable, "-m", "tests.sardana.driver", f"tango://{self.tango_host}/{DOOR}", json.dumps(plan)],
            env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
        )
        lines = [json.loads(ln) for ln in out.stdout.splitlines() if ln.startswith("{")]
        if out.returncode != 0:
            raise RuntimeError(f"driver failed ({out.returncode}): {lines}\n{out.stderr[-3000:]}")
        return lines

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self._procs):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()

"""A simulated beamline: real pytango devices served without a Tango database.

The devices run in a child process (``python -m scifish.testing``) under
``tango.test_context.MultiDeviceTestContext``, so clients talk the real Tango protocol.
Every read can be given a delay (device property ``ReadDelayMs``), as a real controller
takes a few milliseconds per attribute.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from tango import AttrWriteType, DevState
from tango.server import Device, attribute, device_property

from scizoo.core import ServiceStartError
from scizoo.testing import free_port


class _SimDevice(Device):
    ReadDelayMs = device_property(dtype=float, default_value=0.0)

    def _delay(self) -> None:
        if self.ReadDelayMs > 0:
            time.sleep(self.ReadDelayMs / 1000.0)

    def init_device(self) -> None:
        super().init_device()
        self.set_state(DevState.ON)


class SimMotor(_SimDevice):
    """A motor whose position can be written; reads back with a little jitter."""

    Position0 = device_property(dtype=float, default_value=0.0)

    def init_device(self) -> None:
        super().init_device()
        self._position = self.Position0

    @attribute(dtype=float, unit="mm", access=AttrWriteType.READ_WRITE)
    def position(self) -> float:
        self._delay()
        return self._position

    @position.write
    def position(self, value: float) -> None:
        self._position = value

    @attribute(dtype=float, unit="mm/s")
    def velocity(self) -> float:
        self._delay()
        return 1.5


class SimTemperature(_SimDevice):
    """A temperature controller drifting slowly around its setpoint."""

    def init_device(self) -> None:
        super().init_device()
        self._setpoint = 295.0

    @attribute(dtype=float, unit="K")
    def temperature(self) -> float:
        self._delay()
        return round(self._setpoint + 0.05 * math.sin(time.time() / 7.0), 4)

    @attribute(dtype=float, unit="K", access=AttrWriteType.READ_WRITE)
    def setpoint(self) -> float:
        self._delay()
        return self._setpoint

    @setpoint.write
    def setpoint(self, value: float) -> None:
        self._setpoint = value


class SimShutter(_SimDevice):
    """A shutter whose state is a numeric code (the configuration maps it to a label)."""

    def init_device(self) -> None:
        super().init_device()
        self._code = 4

    @attribute(dtype=int, access=AttrWriteType.READ_WRITE)
    def state_code(self) -> int:
        self._delay()
        return self._code

    @state_code.write
    def state_code(self, value: int) -> None:
        self._code = value


class SimEnergy(_SimDevice):
    """A monochromator energy."""

    def init_device(self) -> None:
        super().init_device()
        self._energy = 7100.0

    @attribute(dtype=float, unit="eV", access=AttrWriteType.READ_WRITE)
    def energy(self) -> float:
        self._delay()
        return self._energy

    @energy.write
    def energy(self, value: float) -> None:
        self._energy = value

    @attribute(dtype=(float,), max_dim_x=64, unit="counts")
    def spectrum(self) -> list[float]:
        """A small spectrum: an attribute that is not a scalar (no value mapping on it)."""
        return [self._energy / 1000 + i for i in range(8)]


class PathFixer(_SimDevice):
    """Publishes the current proposal and data path, as MAX IV's PathFixer does."""

    Proposal = device_property(dtype=str, default_value="20240001")
    DataPath = device_property(dtype=str, default_value="/data/visitors/sim/20240001/raw")

    def init_device(self) -> None:
        super().init_device()
        self._proposal = self.Proposal
        self._path = self.DataPath

    @attribute(dtype=str, access=AttrWriteType.READ_WRITE)
    def proposal(self) -> str:
        return self._proposal

    @proposal.write
    def proposal(self, value: str) -> None:
        self._proposal = value

    @attribute(dtype=str, access=AttrWriteType.READ_WRITE)
    def data_path(self) -> str:
        return self._path

    @data_path.write
    def data_path(self, value: str) -> None:
        self._path = value


class SimController(_SimDevice):
    """A controller with five plain attributes, for the capture benchmark."""

    @attribute(dtype=float)
    def a0(self) -> float:
        self._delay()
        return 0.0

    @attribute(dtype=float)
    def a1(self) -> float:
        self._delay()
        return 1.0

    @attribute(dtype=float)
    def a2(self) -> float:
        self._delay()
        return 2.0

    @attribute(dtype=float)
    def a3(self) -> float:
        self._delay()
        return 3.0

    @attribute(dtype=float)
    def a4(self) -> float:
        self._delay()
        return 4.0


DEVICE_CLASSES: dict[str, type[Device]] = {
    cls.__name__: cls for cls in (SimMotor, SimTemperature, SimShutter, SimEnergy, PathFixer, SimController)
}


@dataclass(frozen=True)
class SimDeviceSpec:
    """One simulated device: its class name (see DEVICE_CLASSES), name and properties."""

    cls: str
    name: str
    properties: dict[str, Any] = field(default_factory=dict)


def demo_devices(proposal: str, data_path: str, read_delay_ms: float = 0.0) -> list[SimDeviceSpec]:
    """The devices of the demo beamline (matching ``config/beamlines/sim.yaml``)."""
    delay = {"ReadDelayMs": read_delay_ms}
    return [
        SimDeviceSpec("SimMotor", "sim/motor/x", {**delay, "Position0": 1.25}),
        SimDeviceSpec("SimMotor", "sim/motor/y", {**delay, "Position0": -0.5}),
        SimDeviceSpec("SimMotor", "sim/motor/theta", {**delay, "Position0": 12.0}),
        SimDeviceSpec("SimTemperature", "sim/temp/1", delay),
        SimDeviceSpec("SimShutter", "sim/shutter/1", delay),
        SimDeviceSpec("SimEnergy", "sim/energy/1", delay),
        SimDeviceSpec("PathFixer", "sim/pathfixer/1", {"Proposal": proposal, "DataPath": data_path}),
    ]


class SimulatedBeamline:
    """Serves simulated devices in a child process; ``addresses`` maps name -> Tango URL."""

    def __init__(self, devices: list[SimDeviceSpec], port: int = 0) -> None:
        self.devices = devices
        self.port = port
        self.addresses: dict[str, str] = {}
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 60.0) -> None:
        if self.port == 0:
            self.port = free_port()
        spec = json.dumps([{"cls": d.cls, "name": d.name, "properties": d.properties} for d in self.devices])
        self._proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "scifish.testing", str(self.port), spec, str(os.getpid())],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        ready: list[str] = []
        got_ready = threading.Event()

        def _read() -> None:
            # The Tango server prints its own lines ("Ready to accept request") first.
            assert self._proc is not None and self._proc.stdout is not None
            # Keep draining afterwards, so a chatty server never blocks on a full pipe.
            for line in self._proc.stdout:
                if not ready and line.startswith("READY "):
                    ready.append(line)
                    got_ready.set()

        reader = threading.Thread(target=_read, daemon=True)
        self._reader = reader
        reader.start()
        got_ready.wait(timeout)
        line = ready[0] if ready else ""
        if not line.startswith("READY "):
            self.stop()
            raise ServiceStartError("simulated beamline", f"devices not served after {timeout:.0f} s")
        # The C++ server may write on the same line after ours; read just our JSON.
        self.addresses, _ = json.JSONDecoder().raw_decode(line[len("READY ") :])

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def kill(self) -> None:
        """SIGKILL the device server: its devices stop answering at once (connection refused)."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()

    def freeze(self, timeout_s: float = 5.0) -> None:
        """SIGSTOP the device server: connections hang, as with a wedged controller.

        Returns once the kernel shows the process stopped: a signal reaches a process in an
        uninterruptible wait only when it leaves it, and a read in that gap was answered (a
        clean-clone CI run saw a "frozen" device give its value once).
        """
        if self._proc is None:
            return
        os.kill(self._proc.pid, signal.SIGSTOP)
        stat = Path(f"/proc/{self._proc.pid}/stat")
        deadline = time.monotonic() + timeout_s
        while stat.exists() and time.monotonic() < deadline:
            # The state is the field after the command, which is in parentheses.
            if stat.read_text().rpartition(")")[2].split()[0] in ("T", "t"):
                return
            time.sleep(0.01)

    def thaw(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.kill(self._proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> SimulatedBeamline:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _serve(port: int, spec_json: str, parent_pid: int) -> None:
    from tango.test_context import MultiDeviceTestContext

    by_class: dict[str, list[dict[str, Any]]] = {}
    for item in json.loads(spec_json):
        by_class.setdefault(item["cls"], []).append({"name": item["name"], "properties": item["properties"]})
    info = [{"class": DEVICE_CLASSES[name], "devices": devs} for name, devs in by_class.items()]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with MultiDeviceTestContext(info, host="127.0.0.1", port=port, process=False) as ctx:
        names = [d["name"] for devs in by_class.values() for d in devs]
        print("READY " + json.dumps({n: ctx.get_device_access(n) for n in names}), flush=True)
        # Stop with the parent even when it is SIGKILLed, so no device server is orphaned.
        while not stop.wait(1.0):
            if os.getppid() != parent_pid:
                break


if __name__ == "__main__":
    _serve(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]))


class TangoDatabase:
    """pytango's own Tango database server with its sqlite backend, in a child process.

    ``with TangoDatabase(folder) as db: db.register([...], "SimMotor", "Sim/1")``; its
    address is ``db.tango_host``. Devices registered here are *defined* (found by a search),
    not running: run them with :class:`SimulatedBeamline`.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        from pathlib import Path

        self.folder = Path(folder)
        self.port = free_port()
        self.tango_host = f"127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> TangoDatabase:
        import tango

        self.folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TANGO_HOST": self.tango_host, "PYTANGO_DATABASE_NAME": str(self.folder / "tango.db")}
        log = (self.folder / "databaseds.log").open("wb")
        self._proc = subprocess.Popen(  # noqa: S603 - pytango's own server, no shell
            [sys.executable, "-m", "tango.databaseds.database", "--db_access", "sqlite3", "--port", str(self.port), "2"],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise ServiceStartError("tango-database", f"the process exited with {self._proc.returncode}")
            try:
                self.database().get_server_list("*")
                return self
            except tango.DevFailed as err:
                if time.monotonic() > deadline:
                    raise ServiceStartError("tango-database", f"not up in {timeout:g} s: {err}") from err
                time.sleep(0.3)

    def database(self) -> Any:
        import tango

        return tango.Database("127.0.0.1", self.port)

    def register(self, names: list[str], device_class: str, server: str) -> None:
        import tango

        db = self.database()
        for name in names:
            info = tango.DbDevInfo()
            info.name, info._class, info.server = name, device_class, server
            db.add_device(info)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        self._proc = None

    def __enter__(self) -> TangoDatabase:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

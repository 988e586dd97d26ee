"""The demo's beamline at work: motors moved, the proposal switched on the PathFixer, scan files
written (NeXus, what the shipped reductions read), as a scan at a beamline would (scizoo.demo).
Needs pytango and h5py (imported when used), so it is a module of its own, not imported by
:mod:`scizoo.testing`.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scizoo.core import BeamlineConfig, DataFile, ScanBlock, manual_message_id

from .nexus import write_scan_nexus


class DemoBeamline:
    """Drives the simulated beamline: moves motors, switches proposal, writes scan files."""

    def __init__(self, config: BeamlineConfig, addresses: dict[str, str], data_root: Path) -> None:
        import tango

        self._tango = tango
        self.config = config
        self.addresses = addresses
        self.data_root = data_root
        self._serial = 0
        self._proxies: dict[str, Any] = {}

    def _proxy(self, name: str) -> Any:  # a tango.DeviceProxy
        # One proxy per device for the whole demo: making one costs a round trip.
        if name not in self._proxies:
            self._proxies[name] = self._tango.DeviceProxy(self.addresses[name])
        return self._proxies[name]

    def set_proposal(self, proposal: str) -> Path:
        path = self.data_root / proposal / "raw"
        path.mkdir(parents=True, exist_ok=True)
        fixer = self._proxy(self.config.pathfixer)
        fixer.write_attribute("proposal", proposal)
        fixer.write_attribute("data_path", str(path))
        return path

    def start_series(self, number: int) -> float:
        """A reflectivity series: its scans share a temperature setpoint (what the group rule of
        config/reduction/rules.yaml groups them by); the setpoint, which the capture records."""
        setpoint = 150.0 + number
        self._proxy("sim/temp/1").write_attribute("setpoint", setpoint)
        return setpoint

    def end_series(self) -> None:
        self._proxy("sim/temp/1").write_attribute("setpoint", 295.0)

    def run_segment(self, path: Path, now: datetime, series: int, segment: int) -> tuple[str, ScanBlock]:
        """One segment of a reflectivity curve: reflectivity falls fast with q, so each segment
        at a higher angle is measured with less attenuation; ``stitch`` puts them on one scale."""
        self._serial += 1
        n = self._serial
        self._proxy("sim/motor/theta").write_attribute("position", 0.2 + 0.3 * segment)
        q = [0.3 * segment + 0.04 * i for i in range(11)]
        attenuation = 10.0 ** (3 - segment)
        scan_file = path / f"series_{series:03d}_{segment}.nxs"
        title = f"ascan theta {0.2 + 0.3 * segment:g} {0.6 + 0.3 * segment:g} 10 0.2"
        write_scan_nexus(scan_file, x=q, counts=[round(1e7 * math.exp(-6 * v) / attenuation) for v in q],
                         monitor=[10_000] * len(q), title=title, start=now - timedelta(seconds=2.2), end=now,
                         motor="theta", x_units="1/nm")
        stat = scan_file.stat()
        written = datetime.fromtimestamp(stat.st_mtime, UTC)  # the file's own time, as scifly reads it
        block = ScanBlock(id=str(n), title=title, start=now - timedelta(seconds=2.2), end=now, status="finished",
                          points=len(q), files=[DataFile(path=str(scan_file), size=stat.st_size, time=written)])
        return manual_message_id(self.config.beamline, uuid.uuid4()), block

    def run_scan(self, path: Path, now: datetime) -> tuple[str, ScanBlock]:
        self._serial += 1
        n = self._serial
        self._proxy("sim/motor/x").write_attribute("position", 1.0 + 0.25 * n)
        self._proxy("sim/shutter/1").write_attribute("state_code", 4 if n % 3 else 1)
        self._proxy("sim/energy/1").write_attribute("energy", 7100.0 + 10 * (n % 7))
        points = 11 + n % 5
        scan_file = path / f"scan_{n:05d}.nxs"
        start = now - timedelta(seconds=points * 0.2)
        title = f"ascan mot01 0 10 {points - 1} 0.2"
        # NeXus: counts over the motor's positions and the monitor, what the shipped reduction (profile) reads.
        write_scan_nexus(scan_file, x=[i * 0.1 for i in range(points)],
                         counts=[int(200 + 80 * math.sin(i / 2 + n)) for i in range(points)],
                         monitor=[1000 + (i * 7) % 13 for i in range(points)], title=title, start=start, end=now)
        stat = scan_file.stat()
        written = datetime.fromtimestamp(stat.st_mtime, UTC)  # the file's own time, as scifly reads it
        block = ScanBlock(
            id=str(n),
            title=title,
            start=start,
            end=now,
            status="finished",
            points=points,
            files=[DataFile(path=str(scan_file), size=stat.st_size, time=written)],
        )
        return manual_message_id(self.config.beamline, uuid.uuid4()), block

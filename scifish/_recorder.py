"""The scan-side logic of the Sardana recorder, without Sardana.

Sardana calls a recorder from the scan's own thread and aborts the user's scan if it
raises, so the recorder only copies what it needs from the scan environment and hands
the work to one background thread per process (:class:`CaptureWorker`): reading Tango,
building the message and sending it (or spooling it) happen there, in order. Nothing
here raises into the scan; every failure becomes a warning the recorder shows in the
macro output and a log line.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scizoo.core import (
    BeamlineConfig,
    DataFile,
    ScanBlock,
    ScanColumn,
    ScanMetadata,
    load_beamline_config,
    sardana_message_id,
)

from ._capture import Capturer, ScanRequest, When
from ._pathfixer import Where
from ._producer import SpoolingProducer
from ._settings import ScifishSettings
from ._spool import DEAD_LETTER_FILE
from ._tango import TangoReader

logger = logging.getLogger(__name__)

#: Sardana's ScanEndStatus names -> our scan status.
END_STATUS = {"Normal": "finished", "Stop": "aborted", "Abort": "aborted", "Exception": "failed"}


def _aware(value: Any) -> datetime:
    """Sardana's times are naive local datetimes; ours carry their zone."""
    if isinstance(value, datetime):
        return value.astimezone() if value.tzinfo is None else value
    return datetime.now(UTC)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass
class _Column:
    """Running summary of one scalar column."""

    label: str
    name: str
    unit: str = ""
    first: float | None = None
    last: float | None = None
    low: float | None = None
    high: float | None = None

    def add(self, value: Any) -> None:
        number = _number(value)
        if number is None:
            return
        if self.first is None:
            self.first = number
        self.last = number
        self.low = number if self.low is None else min(self.low, number)
        self.high = number if self.high is None else max(self.high, number)

    def summary(self) -> ScanColumn:
        return ScanColumn(
            label=self.label, name=self.name, unit=self.unit, first=self.first, last=self.last,
            min=self.low, max=self.high,
        )


def scan_files(scan_dir: Any, scan_file: Any) -> list[DataFile]:
    """The files named by Sardana's ScanDir/ScanFile, with size and time where they exist."""
    if not scan_dir or not scan_file:
        return []
    names = [scan_file] if isinstance(scan_file, str) else list(scan_file)
    files = []
    for name in names:
        path = Path(str(scan_dir)) / str(name)
        try:
            stat = path.stat()
        except OSError:
            files.append(DataFile(path=str(path)))
            continue
        files.append(DataFile(path=str(path), size=stat.st_size, time=datetime.fromtimestamp(stat.st_mtime, UTC)))
    return files


@dataclass
class ScanState:
    """What one scan has told the recorder so far (only plain values, copied in the scan thread)."""

    macro_id: str
    serial: str
    title: str
    user: str
    start: datetime
    scan_dir: Any
    scan_file: Any
    motors: dict[str, _Column] = field(default_factory=dict)
    channels: dict[str, _Column] = field(default_factory=dict)
    points: int = 0

    @classmethod
    def from_environ(cls, env: Mapping[str, Any]) -> ScanState:
        motors: dict[str, _Column] = {}
        channels: dict[str, _Column] = {}
        counters = set(env.get("counters") or ())
        moveables = set(env.get("ref_moveables") or ())
        for desc in env.get("datadesc") or ():
            name = getattr(desc, "name", "")
            label = getattr(desc, "label", "") or name
            if not name or getattr(desc, "shape", []) not in ([], (), None):
                continue  # only scalar columns are summarised
            if name in counters:
                channels[name] = _Column(label, name, str(getattr(desc, "data_units", "") or ""))
            elif hasattr(desc, "moveable") or name in moveables:
                motors[name] = _Column(label, name)
        return cls(
            macro_id=str(env.get("macro_id") or env.get("serialno") or ""),
            serial=str(env.get("serialno", "")),
            title=str(env.get("title", "")),
            user=str(env.get("user", "")),
            start=_aware(env.get("starttime")),
            scan_dir=env.get("ScanDir"),
            scan_file=env.get("ScanFile"),
            motors=motors,
            channels=channels,
        )

    def add_record(self, data: Mapping[str, Any]) -> None:
        self.points += 1
        for name, column in self.motors.items():
            column.add(data.get(name))
        for name, column in self.channels.items():
            column.add(data.get(name))

    def block(self, status: str, end: datetime | None = None) -> ScanBlock:
        return ScanBlock(
            id=self.serial or self.macro_id,
            title=self.title,
            start=self.start,
            end=end,
            status=status,
            points=self.points,
            files=scan_files(self.scan_dir, self.scan_file) if end else [],
            user=self.user,
            motors=[c.summary() for c in self.motors.values()],
            channels=[c.summary() for c in self.channels.values()],
        )


class CaptureWorker:
    """One background thread that runs capture jobs in order, away from the scan's thread.

    The Tango reader and the spooling producer are made lazily in the worker, so that a
    slow or absent Kafka costs the scan nothing.
    """

    def __init__(self, settings: ScifishSettings) -> None:
        self.settings = settings
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._reader: TangoReader | None = None
        self._producer: SpoolingProducer | None = None
        # Followed from the worker's start, in the background: a scan never waits for the store.
        self._active = settings.active_config()
        if self._active is not None:
            self._active.start(wait_s=0)
        self._thread = threading.Thread(target=self._loop, name="scifish-recorder", daemon=True)
        self._thread.start()

    @property
    def reader(self) -> TangoReader:
        if self._reader is None:
            self._reader = TangoReader(self.settings.device_addresses, timeout_s=self.settings.device_timeout_s,
                                       probe_interval_s=self.settings.device_probe_interval_s)
        return self._reader

    @property
    def producer(self) -> SpoolingProducer:
        if self._producer is None:
            self._producer = SpoolingProducer(
                self.settings.kafka_bootstrap, self.settings.spool_dir, send_timeout_s=self.settings.send_timeout_s,
                producer_config=self.settings.kafka_security(),
            )
        return self._producer

    def config(self, config_file: Path) -> BeamlineConfig:
        """The configuration to capture with: the beamline's active one from the store when one is
        set (from memory), else the file."""
        if self._active is not None:
            return self._active.current()
        return load_beamline_config(config_file)

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def _loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:  # a job reports its own failures; this is the last guard
                logger.exception("scifish recorder job failed")

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every submitted job has run (for tests and shutdown)."""
        done = threading.Event()
        self._jobs.put(done.set)
        return done.wait(timeout)

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(10)
        if self._producer is not None:
            self._producer.close()
        if self._reader is not None:
            self._reader.close()
        if self._active is not None:
            self._active.close()


_workers: dict[str, CaptureWorker] = {}
_workers_lock = threading.Lock()


def shared_worker() -> CaptureWorker:
    """The process's worker for its current settings.

    The MacroServer builds a new recorder for every scan; the worker (its Kafka
    connection, Tango proxies and spool) outlives them. Settings are read from the
    environment at every scan, so a changed ``SCIFISH_*`` variable takes effect.
    """
    settings = ScifishSettings()
    # One worker per spool folder: a spool belongs to one producer (it is locked). When
    # other settings change, the folder's worker is replaced, after its queued jobs ran.
    key = str(settings.spool_dir.resolve())
    with _workers_lock:
        worker = _workers.get(key)
        if worker is not None and worker.settings != settings:
            worker.close()
            worker = None
        if worker is None:
            worker = _workers[key] = CaptureWorker(settings)
        return worker


class ScanRecording:
    """The life of one scan as the recorder sees it: start, points, end.

    Every public method returns instead of raising; problems are collected in
    ``warnings`` (and logged) for the recorder to show to the user.
    """

    def __init__(self, worker: CaptureWorker, config_file: str | os.PathLike[str] | None = None) -> None:
        self.worker = worker
        self.config_file = Path(config_file or worker.settings.config_file)
        self.warnings: list[str] = []
        self._lock = threading.Lock()
        self._state: ScanState | None = None
        self._config: BeamlineConfig | None = None
        self._start: ScanMetadata | None = None

    def _warn(self, text: str) -> None:
        logger.warning("%s", text)
        with self._lock:
            self.warnings.append(text)

    def take_warnings(self) -> list[str]:
        with self._lock:
            out, self.warnings = self.warnings, []
        return out

    def message_id(self) -> str:
        assert self._state is not None and self._config is not None
        return sardana_message_id(self._config.beamline, self._state.macro_id)

    def start(self, env: Mapping[str, Any]) -> None:
        try:
            self._config = self.worker.config(self.config_file)
            self._state = ScanState.from_environ(env)
        except Exception as err:  # noqa: BLE001 - a bad configuration must not stop the scan
            self._warn(f"scizoo: this scan's metadata will not be captured: {err}")
            self._config = self._state = None
            return
        self.worker.submit(self._send_running)

    def record(self, data: Mapping[str, Any]) -> None:
        if self._state is None:
            return
        try:
            self._state.add_record(data)
        except Exception as err:  # noqa: BLE001
            self._warn(f"scizoo: could not summarise a scan point: {err}")

    def end(self, env: Mapping[str, Any]) -> None:
        if self._state is None:
            return
        try:
            status = END_STATUS.get(_status_name(env.get("endstatus")), "finished")
            block = self._state.block(status, end=_aware(env.get("endtime")))
        except Exception as err:  # noqa: BLE001
            self._warn(f"scizoo: could not summarise the scan's end: {err}")
            return
        self.worker.submit(lambda: self._send_final(block))

    # --- in the worker thread -------------------------------------------------

    def _capture(self, request: ScanRequest, at: When | None) -> ScanMetadata:
        assert self._config is not None
        capturer = Capturer(self._config, self.worker.reader, self.worker.producer, self.worker.settings.topic_prefix)
        sent = capturer.capture_one(request, source="sardana", now=datetime.now(UTC), at=at)
        block = request.scan
        if sent.outcome == "spooled":
            self._warn(f"scizoo: Kafka is unreachable; scan {block.id} ({block.status}) is spooled")
        elif sent.outcome == "refused":
            self._warn(f"scizoo: Kafka refused scan {block.id} ({block.status}) for good; it is kept in "
                       f"{self.worker.settings.spool_dir / DEAD_LETTER_FILE} for a person to look at")
        return sent.message

    def _send_running(self) -> None:
        assert self._state is not None and self._config is not None
        try:
            self._start = self._capture(ScanRequest(self._state.block("running"), self.message_id()), at="start")
            _report_errors(self._start.entries, self._warn)
        except Exception as err:  # noqa: BLE001
            self._warn(f"scizoo: could not send the start of the scan: {err}")

    def _send_final(self, block: ScanBlock) -> None:
        try:
            start = self._start
            if start is None:  # the start was not captured: read everything now
                final = self._capture(ScanRequest(block, self.message_id()), at=None)
                _report_errors(final.entries, self._warn)
                return
            # The end belongs where the start was, whatever the PathFixer says by now.
            request = ScanRequest(block, self.message_id(), where=Where(start.proposal_id, start.data_path),
                                  entries=start.entries)
            final = self._capture(request, at="end")
            _report_errors(final.entries[len(start.entries):], self._warn)
        except Exception as err:  # noqa: BLE001
            self._warn(f"scizoo: could not send the end of the scan: {err}")


def _status_name(value: Any) -> str:
    # ScanEndStatus is an Enumeration in Sardana: str() of a member can be "Normal" or an int.
    if value is None:
        return "Normal"
    try:
        from sardana.macroserver.scan.gscan import ScanEndStatus

        return str(ScanEndStatus.whatis(value))
    except Exception:  # noqa: BLE001
        return str(value)


def _report_errors(entries: Iterable[Any], warn: Callable[[str], None]) -> None:
    failed = [f"{e.name} ({e.error})" for e in entries if e.error]
    if failed:
        warn(f"scizoo: {len(failed)} attribute(s) could not be read: {'; '.join(failed[:5])}")

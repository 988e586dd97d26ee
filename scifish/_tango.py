"""Reading configured attributes from Tango: one round trip per device, all devices at once.

A device that does not answer within its timeout is marked unreachable: later reads give
its attributes an error at once, without calling it, while a background probe calls it
now and then; once it answers, reads go to it again. So a wedged controller costs a
capture one timeout, once, instead of one (or several) at every capture.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import tango

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reading:
    """One attribute as read, or why it could not be read."""

    device: str
    attribute: str
    value: Any = None
    quality: str | None = None
    read_time: datetime | None = None
    error: str | None = None


def plain_value(value: Any) -> Any:
    """A JSON-friendly Python value from what pytango returns (numpy, DevState, enums)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, tango.DevState):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, tuple):
        return [plain_value(v) for v in value]
    return value


def _says_timeout(err: Exception) -> bool:
    if isinstance(err, tango.DevFailed):
        text = " ".join(f"{e.reason} {e.desc}" for e in err.args).upper()
        return "TIMEOUT" in text or "TIMEDOUT" in text
    return isinstance(err, TimeoutError)


def _error_text(err: Exception) -> str:
    if isinstance(err, tango.DevFailed) and err.args:
        first = err.args[0]
        return f"{first.reason}: {first.desc.strip()}"
    return f"{type(err).__name__}: {err}"


@dataclass(frozen=True)
class _Unreachable:
    since: datetime
    error: str
    attributes: list[str]

    def text(self) -> str:
        return f"unreachable since {self.since.isoformat(timespec='seconds')}: {self.error}"


class TangoReader:
    """Reads attributes of many devices in parallel, each with its own timeout.

    Parameters
    ----------
    addresses
        Optional map from a configured device name to the Tango URL to use for it
        (e.g. ``tango://host:port/a/b/c#dbase=no`` for devices served without a database).
    timeout_s
        How long one device may take to answer. A device that takes longer yields an
        error for each of its attributes; the others are not held up. It is then left
        out of later reads (its attributes get an "unreachable since" error at no cost)
        until a probe finds it answering again.
    probe_interval_s
        How often an unreachable device is tried again, in a background thread.

    Attributes
    ----------
    skipped
        How many times a read left out an unreachable device without calling it.
    """

    def __init__(
        self,
        addresses: Mapping[str, str] | None = None,
        timeout_s: float = 1.0,
        max_workers: int = 64,
        *,
        probe_interval_s: float = 2.0,
    ) -> None:
        self._addresses = dict(addresses or {})
        self._timeout_s = timeout_s
        self._probe_interval_s = probe_interval_s
        self._proxies: dict[str, tango.DeviceProxy] = {}
        self._unreachable: dict[str, _Unreachable] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="scifish-tango")
        self.skipped = 0

    def _proxy(self, device: str) -> tango.DeviceProxy:
        with self._lock:
            proxy = self._proxies.get(device)
        if proxy is None:
            proxy = tango.DeviceProxy(self._addresses.get(device, device))
            proxy.set_timeout_millis(max(1, int(self._timeout_s * 1000)))
            with self._lock:
                self._proxies[device] = proxy
        return proxy

    def _costly(self, err: Exception, started: float) -> bool:
        # What makes a device worth leaving out is what calling it costs: a refused
        # connection (a killed server) fails at once and is simply tried again next time.
        return _says_timeout(err) or time.monotonic() - started >= self._timeout_s

    def _read_device(self, device: str, attributes: list[str]) -> list[Reading]:
        started = time.monotonic()
        try:
            results = self._proxy(device).read_attributes(attributes)
        except Exception as err:  # noqa: BLE001 - any failure becomes a visible per-attribute error
            # A proxy that exists reconnects by itself when the server returns; one whose
            # construction failed was never cached, so the next capture tries again.
            text = _error_text(err)
            if self._costly(err, started):
                self._mark_unreachable(device, attributes, text)
            return [Reading(device, a, error=text) for a in attributes]
        readings = []
        for name, result in zip(attributes, results, strict=True):
            when = datetime.fromtimestamp(result.time.totime(), tz=UTC) if result.time else None
            if result.has_failed:
                stack = result.get_err_stack()
                text = f"{stack[0].reason}: {stack[0].desc.strip()}" if stack else "read failed"
                readings.append(Reading(device, name, error=text, read_time=when))
                continue
            readings.append(
                Reading(device, name, value=plain_value(result.value), quality=str(result.quality), read_time=when)
            )
        return readings

    def _mark_unreachable(self, device: str, attributes: list[str], error: str) -> None:
        with self._lock:
            if device in self._unreachable or self._closed.is_set():
                return
            self._unreachable[device] = _Unreachable(datetime.now(UTC), error, list(attributes))
        logger.warning("Tango device %s does not answer (%s); leaving it out of reads until it does", device, error)
        threading.Thread(target=self._probe, args=(device,), name=f"scifish-probe-{device}", daemon=True).start()

    def _probe(self, device: str) -> None:
        """Call an unreachable device now and then, off the capture's path, until it answers."""
        with self._lock:
            attributes = self._unreachable[device].attributes
        while not self._closed.wait(self._probe_interval_s):
            started = time.monotonic()
            try:
                self._proxy(device).read_attributes(attributes)
            except Exception as err:  # noqa: BLE001 - only whether it answers in time matters here
                if self._costly(err, started):
                    continue
            with self._lock:
                self._unreachable.pop(device, None)
            logger.info("Tango device %s answers again", device)
            return

    def unreachable(self) -> dict[str, str]:
        """The devices left out of reads right now, each with its "unreachable since" error."""
        with self._lock:
            return {device: state.text() for device, state in self._unreachable.items()}

    def read(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Reading]:
        """Read (device, attribute) pairs; every pair gets a Reading, with a value or an error."""
        by_device: dict[str, list[str]] = {}
        for device, attribute in wanted:
            names = by_device.setdefault(device, [])
            if attribute not in names:
                names.append(attribute)
        out: dict[tuple[str, str], Reading] = {}
        futures: dict[str, tuple[Future[list[Reading]], float]] = {}
        started = time.monotonic()
        for device, names in by_device.items():
            with self._lock:
                state = self._unreachable.get(device)
                if state is not None:
                    self.skipped += 1
                connected = device in self._proxies
            if state is not None:
                for name in names:
                    out[(device, name)] = Reading(device, name, error=state.text())
                continue
            # The proxy timeout bounds a call on a connected device; Tango's own retries
            # after that timeout only add to the wait when the device is wedged. Building a
            # proxy also connects, to a host that may accept but never answer: more margin.
            budget = self._timeout_s + 0.5 if connected else self._timeout_s * 2 + 0.5
            futures[device] = (self._pool.submit(self._read_device, device, names), started + budget)
        for device, (future, deadline) in futures.items():
            try:
                readings = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                text = f"Timeout: no answer within {self._timeout_s:.3g} s"
                self._mark_unreachable(device, by_device[device], text)
                readings = [Reading(device, a, error=text) for a in by_device[device]]
            for reading in readings:
                out[(reading.device, reading.attribute)] = reading
        return out

    def close(self) -> None:
        """Stop the probes and the reading threads (a call already waiting on a device ends by its timeout)."""
        self._closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

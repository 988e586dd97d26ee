"""Reading configured attributes from Tango: one round trip per device, all devices at once."""

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


def _error_text(err: Exception) -> str:
    if isinstance(err, tango.DevFailed) and err.args:
        first = err.args[0]
        return f"{first.reason}: {first.desc.strip()}"
    return f"{type(err).__name__}: {err}"


class TangoReader:
    """Reads attributes of many devices in parallel, each with its own timeout.

    Parameters
    ----------
    addresses
        Optional map from a configured device name to the Tango URL to use for it
        (e.g. ``tango://host:port/a/b/c#dbase=no`` for devices served without a database).
    timeout_s
        How long one device may take to answer. A device that takes longer yields an
        error for each of its attributes; the others are not held up.
    """

    def __init__(self, addresses: Mapping[str, str] | None = None, timeout_s: float = 1.0, max_workers: int = 64) -> None:
        self._addresses = dict(addresses or {})
        self._timeout_s = timeout_s
        self._proxies: dict[str, tango.DeviceProxy] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="scifish-tango")

    def _proxy(self, device: str) -> tango.DeviceProxy:
        with self._lock:
            proxy = self._proxies.get(device)
        if proxy is None:
            proxy = tango.DeviceProxy(self._addresses.get(device, device))
            proxy.set_timeout_millis(max(1, int(self._timeout_s * 1000)))
            with self._lock:
                self._proxies[device] = proxy
        return proxy

    def _read_device(self, device: str, attributes: list[str]) -> list[Reading]:
        try:
            results = self._proxy(device).read_attributes(attributes)
        except Exception as err:  # noqa: BLE001 - any failure becomes a visible per-attribute error
            # A proxy that exists reconnects by itself when the server returns; one whose
            # construction failed was never cached, so the next capture tries again.
            text = _error_text(err)
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

    def read(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Reading]:
        """Read (device, attribute) pairs; every pair gets a Reading, with a value or an error."""
        by_device: dict[str, list[str]] = {}
        for device, attribute in wanted:
            names = by_device.setdefault(device, [])
            if attribute not in names:
                names.append(attribute)
        futures: dict[str, Future[list[Reading]]] = {
            device: self._pool.submit(self._read_device, device, names) for device, names in by_device.items()
        }
        out: dict[tuple[str, str], Reading] = {}
        # The proxy timeout bounds each call; the margin covers connecting to a host that
        # accepts but never answers, so one wedged device costs one timeout, not more.
        deadline = time.monotonic() + self._timeout_s * 2 + 0.5
        for device, future in futures.items():
            try:
                readings = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                readings = [
                    Reading(device, a, error=f"Timeout: no answer within {self._timeout_s:.3g} s")
                    for a in by_device[device]
                ]
            for reading in readings:
                out[(reading.device, reading.attribute)] = reading
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

"""The control system as scidog's editor sees it: devices by pattern, their attributes, a live value.

Devices come from the Tango database (``DbGetDeviceWideList``: every defined device, running
or not) and from ``device_addresses`` (devices served without a database, as the simulated
beamline's). Every call to a device has a timeout; a dead device answers with a readable error.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import threading
from typing import Any

import tango

logger = logging.getLogger(__name__)

#: Tango's own wildcard is '*'; anything else a user types is matched literally.
_PATTERN = re.compile(r"[^A-Za-z0-9_./\-]")


class TangoUnavailable(Exception):
    """A device or the database did not answer; the message is safe to show."""


def _error_text(err: Exception) -> str:
    if isinstance(err, tango.DevFailed) and err.args:
        first = err.args[0]
        return f"{first.reason}: {first.desc.strip()}"
    return f"{type(err).__name__}: {err}"


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, tango.DevState):
        return str(value)
    return value


class TangoBrowser:
    """Searches the database and asks devices, each call bounded by ``timeout_s``."""

    def __init__(self, device_addresses: dict[str, str] | None = None, *, timeout_s: float = 1.0,
                 use_database: bool = True, tango_host: str = "") -> None:
        self._addresses = dict(device_addresses or {})
        self._tango_host = tango_host
        self._timeout_ms = int(timeout_s * 1000)
        self._use_database = use_database
        self._db: Any = None
        self._lock = threading.Lock()
        self._proxies: dict[str, Any] = {}

    def _database(self) -> Any:
        with self._lock:
            if self._db is None:
                if self._tango_host:
                    host, _, port = self._tango_host.rpartition(":")
                    self._db = tango.Database(host, int(port))
                else:
                    self._db = tango.Database()  # TANGO_HOST
            return self._db

    def devices(self, text: str, limit: int = 50) -> list[str]:
        """Device names containing ``text`` (case-insensitive), sorted, at most ``limit``."""
        needle = _PATTERN.sub("", text.strip())[:100]
        found = {d for d in self._addresses if fnmatch.fnmatch(d.lower(), f"*{needle.lower()}*")}
        if self._use_database:
            try:
                answer = self._database().command_inout("DbGetDeviceWideList", f"*{needle}*")
            except (tango.DevFailed, tango.ConnectionFailed) as err:
                if not found:
                    raise TangoUnavailable(f"the Tango database did not answer: {_error_text(err)}") from err
            else:
                found.update(str(d).lower() for d in answer if not str(d).lower().startswith("dserver/"))
        return sorted(found)[:limit]

    def known(self, device: str) -> bool:
        """Whether the device is defined (in the database, or served at a known address)."""
        name = device.lower()
        if name in {d.lower() for d in self._addresses}:
            return True
        if not self._use_database:
            return False
        try:
            self._database().get_device_info(device)
        except tango.DevFailed:
            return False
        return True

    def _proxy(self, device: str) -> Any:
        with self._lock:
            proxy = self._proxies.get(device)
            if proxy is None:
                default = f"tango://{self._tango_host}/{device}" if self._tango_host else device
                proxy = tango.DeviceProxy(self._addresses.get(device, default))
                proxy.set_timeout_millis(self._timeout_ms)
                self._proxies[device] = proxy
            return proxy

    def attributes(self, device: str) -> list[dict[str, Any]]:
        """A running device's attributes: name, type, format, unit, enum labels, writable."""
        try:
            infos = self._proxy(device).attribute_list_query_ex()
        except (tango.DevFailed, tango.ConnectionFailed, tango.CommunicationFailed) as err:
            raise TangoUnavailable(f"{device} did not answer: {_error_text(err)}") from err
        return [
            {"name": i.name, "type": str(i.data_type), "format": str(i.data_format),
             "scalar": i.data_format == tango.AttrDataFormat.SCALAR,
             "unit": "" if i.unit in ("", "No unit") else i.unit,
             "enum_labels": list(getattr(i, "enum_labels", []) or []), "writable": str(i.writable)}
            for i in infos if i.name.lower() not in ("state", "status")
        ]

    def value(self, device: str, attribute: str) -> dict[str, Any]:
        """The attribute's current value and quality, or why there is none."""
        try:
            reading = self._proxy(device).read_attribute(attribute)
        except (tango.DevFailed, tango.ConnectionFailed, tango.CommunicationFailed) as err:
            raise TangoUnavailable(f"{device}/{attribute} did not answer: {_error_text(err)}") from err
        return {"value": _plain(reading.value), "quality": str(reading.quality),
                "time": reading.time.todatetime().isoformat() if reading.time else None}

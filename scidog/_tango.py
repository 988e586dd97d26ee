"""The control system as scidog's editor sees it: devices by pattern, their attributes, a live value.

Devices come from the Tango database (``DbGetDeviceWideList``: every defined device, running
or not) and from ``device_addresses`` (devices served without a database, as the simulated
beamline's). Every call to a device has a timeout; a dead device answers with a readable error.

Only devices of the configured database are asked: a name is ``domain/family/member``, and one
that names a host, a port or another database (``tango://host:port/...``, ``host:port/...``,
``...#dbase=no``) is refused before anything is dialled, as is a device the database does not
define. Otherwise a user could make scidog connect anywhere and read its answers (a port
scanner). Proxies are kept in a bounded cache (least recently used first out).
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import re
import threading
from typing import Any

import tango

from ._errors import Invalid, NotFound

logger = logging.getLogger(__name__)

#: Tango's own wildcard is '*'; anything else a user types is matched literally.
_PATTERN = re.compile(r"[^A-Za-z0-9_./\-]")
#: A device of the configured database. ':' and '#' are refused anywhere: they are how a Tango
#: name points at another database (host:port, tango://, #dbase=).
_DEVICE = re.compile(r"[^/:#\s]{1,80}/[^/:#\s]{1,80}/[^/:#\s]{1,80}")
_ATTRIBUTE = re.compile(r"[^/:#\s]{1,128}")
#: How much of a refused name a message quotes.
_QUOTED = 80
#: Proxies kept (least recently used first out) unless settings say otherwise.
DEFAULT_PROXY_CACHE_SIZE = 256


class TangoUnavailable(Exception):
    """A device or the database did not answer; the message is safe to show."""


def _shown(name: str) -> str:
    return repr(name if len(name) <= _QUOTED else f"{name[:_QUOTED]}…")


def device_problem(name: str) -> str | None:
    """Why ``name`` is not a device of the configured database, or None when it may be one."""
    if _DEVICE.fullmatch(name):
        return None
    return (f"{_shown(name)} is not a device name of the facility's Tango database: domain/family/member, "
            "without a host, port or other database (tango://, host:port/, #dbase=)")


def plain_device(name: str) -> str:
    """``name`` in lower case (Tango's names are), or :class:`Invalid` when it is not one to ask."""
    problem = device_problem(name)
    if problem:
        raise Invalid(problem, [{"field": "device", "message": problem}])
    return name.lower()


def _plain_attribute(name: str) -> str:
    if not _ATTRIBUTE.fullmatch(name):
        message = f"{_shown(name)} is not an attribute name"
        raise Invalid(message, [{"field": "attribute", "message": message}])
    return name


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
    """Searches the configured database and asks its devices, each call bounded by ``timeout_s``."""

    def __init__(self, device_addresses: dict[str, str] | None = None, *, timeout_s: float = 1.0,
                 use_database: bool = True, tango_host: str = "",
                 proxy_cache_size: int = DEFAULT_PROXY_CACHE_SIZE) -> None:
        # Addresses come from settings (the operator's), so they may name a host; users' names may not.
        self._addresses = {name.lower(): address for name, address in (device_addresses or {}).items()}
        self._tango_host = tango_host
        self._timeout_ms = int(timeout_s * 1000)
        self._use_database = use_database
        self._db: Any = None
        self._lock = threading.Lock()
        # functools' LRU cache: thread-safe, bounded, and it never keeps a failed connection.
        self._proxies = functools.lru_cache(maxsize=proxy_cache_size)(self._connect)

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
        found = {d for d in self._addresses if fnmatch.fnmatch(d, f"*{needle.lower()}*")}
        if self._use_database:
            try:
                answer = self._database().command_inout("DbGetDeviceWideList", f"*{needle}*")
            except (tango.DevFailed, tango.ConnectionFailed) as err:
                if not found:
                    raise TangoUnavailable(f"the Tango database did not answer: {_error_text(err)}") from err
            else:
                found.update(str(d).lower() for d in answer if not str(d).lower().startswith("dserver/"))
        return sorted(d for d in found if device_problem(d) is None)[:limit]

    def known(self, device: str) -> bool:
        """Whether the device is defined (in the database, or served at a configured address).

        A name that is not one of the configured database's is not known; nothing is dialled for it.
        """
        if device_problem(device) is not None:
            return False
        name = device.lower()
        if name in self._addresses:
            return True
        if not self._use_database:
            return False
        try:
            self._database().get_device_info(name)
        except tango.DevFailed as err:
            if err.args and err.args[0].reason == "DB_DeviceNotDefined":
                return False
            raise TangoUnavailable(f"the Tango database did not answer: {_error_text(err)}") from err
        return True

    def _connect(self, device: str) -> Any:
        """A proxy of a device the configuration knows (``device`` already plain and lower case)."""
        address = self._addresses.get(device)
        if address is None:
            if not self.known(device):
                raise NotFound(f"no device {_shown(device)} in the Tango database")
            address = f"tango://{self._tango_host}/{device}" if self._tango_host else device
        proxy = tango.DeviceProxy(address)
        proxy.set_timeout_millis(self._timeout_ms)
        return proxy

    def _proxy(self, device: str) -> Any:
        name = plain_device(device)
        try:
            return self._proxies(name)
        except (tango.DevFailed, tango.ConnectionFailed, tango.CommunicationFailed) as err:
            raise TangoUnavailable(f"{name} did not answer: {_error_text(err)}") from err

    def cached_proxies(self) -> int:
        """How many device proxies are held now (at most the cache's size)."""
        return self._proxies.cache_info().currsize

    def attributes(self, device: str) -> list[dict[str, Any]]:
        """A running device's attributes: name, type, format, unit, enum labels, writable."""
        proxy = self._proxy(device)
        try:
            infos = proxy.attribute_list_query_ex()
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
        proxy = self._proxy(device)
        name = _plain_attribute(attribute)
        try:
            reading = proxy.read_attribute(name)
        except (tango.DevFailed, tango.ConnectionFailed, tango.CommunicationFailed) as err:
            raise TangoUnavailable(f"{device}/{attribute} did not answer: {_error_text(err)}") from err
        return {"value": _plain(reading.value), "quality": str(reading.quality),
                "time": reading.time.todatetime().isoformat() if reading.time else None}

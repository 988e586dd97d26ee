"""In-memory stand-ins for scidog's store and control system, for tests of the routes and
rules (as scitacean ships ``FakeClient``): never imported at runtime.

:class:`FakeConfigStore` keeps configurations, revisions and the active one in dicts, with
the same documents, ids and refusals as :class:`~scidog.ConfigStore` (both build on
``_configs.ConfigRules``); a behavioural test runs against both
(tests/system/test_store_contract.py). :class:`FakeControlSystem` answers for the devices
a test gives it.

Here, not in :mod:`scizoo.testing`: these implement scidog's own interfaces, so they import
``scidog``; :mod:`scizoo.testing` is imported by :mod:`scifish.testing` on capture
machines, which must not pull in the web stack or pymongo (import-linter's capture contract).
"""

from __future__ import annotations

import itertools
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scizoo.core import BeamlineConfig

from ._configs import (
    ConfigRules,
    config_id,
    revision_of,
    summary_of,
)
from ._errors import NotFound
from ._ports import Configs, ControlSystem
from ._tango import TangoUnavailable, device_problem, plain_device

__all__ = ["FakeConfigStore", "FakeControlSystem"]

Doc = dict[str, Any]


class FakeConfigStore(ConfigRules):
    """scidog's store in memory: one lock makes each write as atomic as the store's conditional update."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.configs: dict[str, Doc] = {}
        self.revision_docs: dict[str, Doc] = {}
        self.active_docs: dict[str, Doc] = {}
        self._histories = itertools.count(1)

    def ensure_collections(self) -> None:
        pass

    def ensure_indexes(self) -> None:
        pass

    def close(self) -> None:
        pass

    # --- reading --------------------------------------------------------------

    def beamlines(self) -> list[str]:
        return sorted({d["beamline"] for d in self.configs.values()})

    def summaries(self, beamline: str) -> list[Doc]:
        active = self.active_name(beamline)
        return [summary_of(d, active) for d in sorted(self.configs.values(), key=lambda d: d["name"])
                if d["beamline"] == beamline]

    def _config_doc(self, beamline: str, name: str) -> Doc | None:
        return self.configs.get(config_id(beamline, name))

    def _active_doc(self, beamline: str) -> Doc | None:
        return self.active_docs.get(beamline)

    def _revision_doc(self, key: str) -> Doc | None:
        return self.revision_docs.get(key)

    def revisions(self, beamline: str, name: str) -> list[Doc]:
        history = self._doc(beamline, name).get("history")
        found = [d for d in self.revision_docs.values()
                 if (d["beamline"], d["name"], d["history"]) == (beamline, name, history)]
        return [revision_of(d) for d in sorted(found, key=lambda d: d["revision"], reverse=True)]

    # --- writing --------------------------------------------------------------

    def _new_history(self) -> str:
        return f"h{next(self._histories)}"

    def _insert(self, config: Doc, revision: Doc) -> bool:
        with self._lock:
            if config["_id"] in self.configs:
                return False
            self.configs[config["_id"]] = config
            self.revision_docs[revision["_id"]] = revision
        return True

    def _activate_first(self, beamline: str, name: str, by: str, at: datetime) -> None:
        with self._lock:
            self.active_docs.setdefault(beamline, {"_id": beamline, "name": name, "changedAt": at, "changedBy": by})

    def _replace(self, saved: BeamlineConfig, history: str | None, base_revision: int, by: str, at: datetime,
                 revision: Doc) -> bool:
        with self._lock:  # the check and the write as one, as the store's conditional update
            now = self.configs.get(config_id(saved.beamline, saved.name))
            if now is None or (now["revision"], now.get("history")) != (base_revision, history):
                return False
            now.update(revision=saved.revision, config=saved.model_dump(mode="json"), updatedAt=at, updatedBy=by)
            self.revision_docs[revision["_id"]] = revision
        return True

    def _remove(self, beamline: str, name: str) -> bool:
        with self._lock:
            return self.configs.pop(config_id(beamline, name), None) is not None

    def _activate(self, beamline: str, name: str, by: str, at: datetime) -> None:
        with self._lock:
            self.active_docs[beamline] = {"_id": beamline, "name": name, "changedAt": at, "changedBy": by}


class FakeControlSystem:
    """Devices and their attributes in memory: ``{"bl/mot/1": {"position": 1.5}}``; a device
    given as None is defined but not running (it cannot say what it has, as in Tango)."""

    def __init__(self, devices: dict[str, dict[str, Any] | None]) -> None:
        self._devices = {name.lower(): values for name, values in devices.items()}

    def devices(self, text: str, limit: int = 50) -> list[str]:
        return sorted(d for d in self._devices if text.lower() in d)[:limit]

    def known(self, device: str) -> bool:
        return device_problem(device) is None and device.lower() in self._devices

    def _values(self, device: str) -> dict[str, Any]:
        name = plain_device(device)
        if name not in self._devices:
            raise NotFound(f"no device {device!r} in the Tango database")
        values = self._devices[name]
        if values is None:
            raise TangoUnavailable(f"{device} is not running")
        return values

    def attributes(self, device: str) -> list[dict[str, Any]]:
        return [{"name": name, "type": type(v).__name__, "format": "SCALAR" if not isinstance(v, list) else "SPECTRUM",
                 "scalar": not isinstance(v, list), "unit": "", "enum_labels": [], "writable": "READ"}
                for name, v in self._values(device).items()]

    def value(self, device: str, attribute: str) -> dict[str, Any]:
        values = self._values(device)
        if attribute not in values:
            raise NotFound(f"{device} has no attribute {attribute!r}")
        return {"value": values[attribute], "quality": "ATTR_VALID", "time": None}


if TYPE_CHECKING:  # the type checker holds the fakes to the interfaces the routes use
    _FAKES: tuple[Configs, ControlSystem] = (FakeConfigStore(), FakeControlSystem({}))

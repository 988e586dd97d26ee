"""The small interfaces in front of scidog's store and the control system: what the routes use.

:class:`~scidog._store.ConfigStore` (MongoDB) and :class:`~scidog.testing.FakeConfigStore`
provide :class:`Configs`; :class:`~scidog._tango.TangoBrowser` and
:class:`~scidog.testing.FakeControlSystem` provide :class:`ControlSystem`. The same
behavioural tests run against both stores (tests/system/test_store_contract.py); the
routes' rules are tested over the fakes in a second (tests/unit/test_scidog_routes.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from scizoo.core import BeamlineConfig

Doc = dict[str, Any]


class Configs(Protocol):
    """scidog's configurations, their revisions and each beamline's active one."""

    def beamlines(self) -> list[str]: ...

    def summaries(self, beamline: str) -> list[Doc]: ...

    def get(self, beamline: str, name: str) -> BeamlineConfig: ...

    def active_name(self, beamline: str) -> str | None: ...

    def active(self, beamline: str) -> BeamlineConfig: ...

    def revisions(self, beamline: str, name: str) -> list[Doc]: ...

    def revision(self, beamline: str, name: str, revision: int) -> BeamlineConfig: ...

    def create(self, config: BeamlineConfig, by: str, at: datetime, *, change: str = ...) -> BeamlineConfig: ...

    def update(self, beamline: str, name: str, config: BeamlineConfig, base_revision: int, by: str, at: datetime,
               *, change: str | None = None) -> BeamlineConfig: ...

    def restore(self, beamline: str, name: str, revision: int, base_revision: int, by: str,
                at: datetime) -> BeamlineConfig: ...

    def duplicate(self, beamline: str, name: str, new_name: str, by: str, at: datetime) -> BeamlineConfig: ...

    def delete(self, beamline: str, name: str) -> None: ...

    def set_active(self, beamline: str, name: str, by: str, at: datetime) -> None: ...

    def import_config(self, config: BeamlineConfig, by: str, at: datetime) -> BeamlineConfig: ...

    def ensure_indexes(self) -> None: ...

    def close(self) -> None: ...


class ControlSystem(Protocol):
    """The devices the editor browses and checks configurations against."""

    def devices(self, text: str, limit: int = 50) -> list[str]: ...

    def known(self, device: str) -> bool: ...

    def attributes(self, device: str) -> list[dict[str, Any]]: ...

    def value(self, device: str, attribute: str) -> dict[str, Any]: ...

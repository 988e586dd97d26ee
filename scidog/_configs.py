"""What scidog decides above any store: the ids of configurations and revisions, and the
operations made of simpler ones (the active configuration, restore, duplicate, import,
delete), with the messages a person reads when one is refused.

Both stores build on :class:`ConfigRules`: :class:`~scidog._store.ConfigStore` (MongoDB)
and :class:`~scidog.testing.FakeConfigStore` (in memory) provide the reads and the writes
that must be atomic; a behavioural test runs against both (tests/system/test_store_contract.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any

from scizoo.core import BeamlineConfig

from ._diff import diff, summary
from ._errors import Conflict, Invalid, NotFound

Doc = dict[str, Any]


def config_id(beamline: str, name: str) -> str:
    return f"{beamline}/{name}"


def revision_id(beamline: str, name: str, history: str | None, revision: int) -> str:
    # Names and beamlines hold no '/', so a history key's ids never meet the older ones'.
    base = config_id(beamline, name)
    return f"{base}/{history}/{revision}" if history else f"{base}/{revision}"


def config_of(doc: Doc) -> BeamlineConfig:
    """The configuration a stored document holds, at its revision."""
    return BeamlineConfig.model_validate({**doc["config"], "revision": doc["revision"]})


def summary_of(doc: Doc, active: str | None) -> Doc:
    """A configuration as the beamline's list shows it."""
    return {"name": doc["name"], "description": doc["config"].get("description", ""), "revision": doc["revision"],
            "entries": len(doc["config"].get("attributes", [])), "active": doc["name"] == active,
            "updatedAt": doc["updatedAt"], "updatedBy": doc["updatedBy"]}


def revision_of(doc: Doc) -> Doc:
    """A revision as the history lists it."""
    return {"revision": doc["revision"], "by": doc["by"], "at": doc["at"], "change": doc["change"]}


def config_doc(config: BeamlineConfig, history: str, by: str, at: datetime) -> Doc:
    """A new configuration as stored: its current state, and the history its revisions are filed under."""
    return {"_id": config_id(config.beamline, config.name), "beamline": config.beamline, "name": config.name,
            "history": history, "revision": config.revision, "config": config.model_dump(mode="json"),
            "updatedAt": at, "updatedBy": by}


def revision_doc(config: BeamlineConfig, history: str | None, by: str, at: datetime, change: str) -> Doc:
    """A revision as stored: who, when, what changed, and the whole configuration."""
    return {"_id": revision_id(config.beamline, config.name, history, config.revision), "beamline": config.beamline,
            "name": config.name, "history": history, "revision": config.revision,
            "config": config.model_dump(mode="json"), "by": by, "at": at, "change": change}


def taken(config: BeamlineConfig) -> Conflict:
    return Conflict(f"{config.beamline} already has a configuration {config.name!r}")


def stale(beamline: str, name: str, now: Doc, history: str | None, base_revision: int) -> Conflict:
    """Why a save from ``base_revision`` was refused, given the configuration as it now is."""
    if now.get("history") != history:
        return Conflict(f"{beamline}/{name} was deleted and created again while this save was being made: "
                        "reload it and apply your change again")
    return Conflict(f"{beamline}/{name} is at revision {now['revision']} (by {now.get('updatedBy', 'someone')}), "
                    f"but this save was made from revision {base_revision}: reload it and apply your change again")


def check_same(beamline: str, name: str, config: BeamlineConfig) -> None:
    if (config.beamline, config.name) != (beamline, name):
        raise Invalid("a save keeps the configuration's beamline and name: duplicate it to rename it")


class ConfigRules(ABC):
    """The operations made of a store's primitives: stated once for every store."""

    @abstractmethod
    def _config_doc(self, beamline: str, name: str) -> Doc | None:
        """The stored configuration, or None."""

    @abstractmethod
    def _active_doc(self, beamline: str) -> Doc | None:
        """The beamline's record of its active configuration, or None."""

    @abstractmethod
    def _revision_doc(self, key: str) -> Doc | None:
        """The stored revision of this id (:func:`revision_id`), or None."""

    @abstractmethod
    def _new_history(self) -> str:
        """A history key no configuration has had."""

    @abstractmethod
    def _insert(self, config: Doc, revision: Doc) -> bool:
        """Store a new configuration and its first revision; False (nothing stored) if its id is taken."""

    @abstractmethod
    def _activate_first(self, beamline: str, name: str, by: str, at: datetime) -> None:
        """Make it the beamline's active configuration if the beamline has none."""

    @abstractmethod
    def _replace(self, saved: BeamlineConfig, history: str | None, base_revision: int, by: str, at: datetime,
                 revision: Doc) -> bool:
        """Store ``saved`` and its revision only if the stored one is still at ``base_revision`` of
        ``history``, as one atomic step; False (nothing stored) otherwise."""

    @abstractmethod
    def _remove(self, beamline: str, name: str) -> bool:
        """Delete the configuration (its revisions stay); False when there was none."""

    @abstractmethod
    def _activate(self, beamline: str, name: str, by: str, at: datetime) -> None: ...

    def _doc(self, beamline: str, name: str) -> Doc:
        doc = self._config_doc(beamline, name)
        if doc is None:
            raise NotFound(f"{beamline} has no configuration {name!r}")
        return doc

    def get(self, beamline: str, name: str) -> BeamlineConfig:
        return config_of(self._doc(beamline, name))

    def active_name(self, beamline: str) -> str | None:
        doc = self._active_doc(beamline)
        return None if doc is None else str(doc["name"])

    def revision(self, beamline: str, name: str, revision: int) -> BeamlineConfig:
        history = self._doc(beamline, name).get("history")
        doc = self._revision_doc(revision_id(beamline, name, history, revision))
        if doc is None:
            raise NotFound(f"{beamline}/{name} has no revision {revision}")
        return BeamlineConfig.model_validate({**doc["config"], "revision": revision})

    def create(self, config: BeamlineConfig, by: str, at: datetime, *, change: str = "created") -> BeamlineConfig:
        """A new configuration at revision 1, with a history of its own; the beamline's first one
        becomes its active one."""
        made = config.model_copy(update={"revision": 1})
        history = self._new_history()
        if not self._insert(config_doc(made, history, by, at), revision_doc(made, history, by, at, change)):
            raise taken(made)
        self._activate_first(made.beamline, made.name, by, at)
        return made

    def update(self, beamline: str, name: str, config: BeamlineConfig, base_revision: int, by: str, at: datetime,
               *, change: str | None = None) -> BeamlineConfig:
        """Save ``config`` as the next revision, if the stored one is still ``base_revision``."""
        check_same(beamline, name, config)
        doc = self._doc(beamline, name)
        current, history = config_of(doc), doc.get("history")
        saved = config.model_copy(update={"revision": base_revision + 1})
        # The history key too: a configuration deleted and made again meanwhile is another one.
        recorded = revision_doc(saved, history, by, at, change or summary(diff(current, saved)))
        if not self._replace(saved, history, base_revision, by, at, recorded):
            raise stale(beamline, name, self._doc(beamline, name), history, base_revision)
        return saved

    def active(self, beamline: str) -> BeamlineConfig:
        """The configuration every scan of the beamline is captured with, at its current revision."""
        name = self.active_name(beamline)
        if name is None:
            raise NotFound(f"{beamline} has no active configuration")
        return self.get(beamline, name)

    def restore(self, beamline: str, name: str, revision: int, base_revision: int, by: str,
                at: datetime) -> BeamlineConfig:
        old = self.revision(beamline, name, revision)
        return self.update(beamline, name, old, base_revision, by, at, change=f"restored revision {revision}")

    def duplicate(self, beamline: str, name: str, new_name: str, by: str, at: datetime) -> BeamlineConfig:
        source = self.get(beamline, name)
        try:
            copy = BeamlineConfig.model_validate({**source.model_dump(), "name": new_name})
        except ValueError as err:
            raise Invalid(f"{new_name!r} is not a configuration name: letters, digits, '.', '_' and '-'") from err
        return self.create(copy, by, at, change=f"duplicated from {name} revision {source.revision}")

    def delete(self, beamline: str, name: str) -> None:
        """Delete a configuration that is not active (its revisions stay, for the record)."""
        if self.active_name(beamline) == name:
            raise Conflict(f"{name!r} is {beamline}'s active configuration: activate another one first")
        if not self._remove(beamline, name):
            raise NotFound(f"{beamline} has no configuration {name!r}")

    def set_active(self, beamline: str, name: str, by: str, at: datetime) -> None:
        self.get(beamline, name)
        self._activate(beamline, name, by, at)

    def import_config(self, config: BeamlineConfig, by: str, at: datetime) -> BeamlineConfig:
        """Create it, or save it as the next revision of the one of the same name."""
        try:
            current = self.get(config.beamline, config.name)
        except NotFound:
            return self.create(config, by, at, change="imported")
        return self.update(config.beamline, config.name, config, current.revision, by, at,
                           change="imported: " + summary(diff(current, config)))

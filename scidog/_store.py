"""The configurations in MongoDB: current state, every revision, and each beamline's active one.

Every save makes a revision (who, when, what changed). A save names the revision it was
made from; if the configuration has moved on since, it is refused (:class:`Conflict`),
never silently overwritten: the check and the write are one conditional update.

A configuration's revisions belong to it, not to its name: each one created gets a history
key of its own (its revisions are filed under it), so a configuration deleted and created
again under the same name starts at revision 1 with an empty history, and the deleted one's
revisions stay, for the record, under theirs. Configurations from before history keys have
none: theirs are the revisions without one.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from bson import ObjectId
from pydantic import SecretStr
from pymongo import DESCENDING, MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from scizoo.core import (
    ACTIVE_CONFIGURATION_COLLECTION,
    CONFIGURATION_COLLECTION,
    CONFIGURATION_REVISION_COLLECTION,
    BeamlineConfig,
    ensure_indexes,
)
from scizoo.ops.store import ping_store

from ._diff import diff, summary
from ._errors import Conflict, Invalid, NotFound

Doc = dict[str, Any]


def _id(beamline: str, name: str) -> str:
    return f"{beamline}/{name}"


def _revision_id(beamline: str, name: str, history: str | None, revision: int) -> str:
    # Names and beamlines hold no '/', so a history key's ids never meet the older ones'.
    return f"{_id(beamline, name)}/{history}/{revision}" if history else f"{_id(beamline, name)}/{revision}"


def _config(doc: Doc) -> BeamlineConfig:
    return BeamlineConfig.model_validate({**doc["config"], "revision": doc["revision"]})


class ConfigStore:
    """scidog's every query and write. One client, opened lazily, closed once."""

    def __init__(self, uri: SecretStr, database: str, *, connect_timeout_s: float = 10.0) -> None:
        self._uri = uri
        self._database = database
        self._timeout_ms = int(connect_timeout_s * 1000)
        self._lock = threading.Lock()
        self._client: MongoClient[Doc] | None = None

    def db(self) -> Database[Doc]:
        with self._lock:
            if self._client is None:
                self._client = MongoClient(self._uri.get_secret_value(), tz_aware=True)
            return self._client[self._database]

    def _configs(self) -> Collection[Doc]:
        return self.db()[CONFIGURATION_COLLECTION]

    def _revisions(self) -> Collection[Doc]:
        return self.db()[CONFIGURATION_REVISION_COLLECTION]

    def _active(self) -> Collection[Doc]:
        return self.db()[ACTIVE_CONFIGURATION_COLLECTION]

    def ping(self) -> None:
        ping_store(self._uri.get_secret_value(), self._timeout_ms / 1000, service="scidog", setting="SCIDOG_MONGO_URI")

    def ensure_indexes(self) -> None:
        ensure_indexes(self.db())

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # --- reading --------------------------------------------------------------

    def beamlines(self) -> list[str]:
        return sorted(str(b) for b in self._configs().distinct("beamline"))

    def summaries(self, beamline: str) -> list[Doc]:
        """The beamline's configurations: name, description, revision, entry count, active or not."""
        active = self.active_name(beamline)
        return [
            {"name": d["name"], "description": d["config"].get("description", ""), "revision": d["revision"],
             "entries": len(d["config"].get("attributes", [])), "active": d["name"] == active,
             "updatedAt": d["updatedAt"], "updatedBy": d["updatedBy"]}
            for d in self._configs().find({"beamline": beamline}).sort("name")
        ]

    def _doc(self, beamline: str, name: str) -> Doc:
        doc = self._configs().find_one({"_id": _id(beamline, name)})
        if doc is None:
            raise NotFound(f"{beamline} has no configuration {name!r}")
        return doc

    def get(self, beamline: str, name: str) -> BeamlineConfig:
        return _config(self._doc(beamline, name))

    def active_name(self, beamline: str) -> str | None:
        doc = self._active().find_one({"_id": beamline})
        return None if doc is None else str(doc["name"])

    def active(self, beamline: str) -> BeamlineConfig:
        """The configuration every scan of the beamline is captured with, at its current revision."""
        name = self.active_name(beamline)
        if name is None:
            raise NotFound(f"{beamline} has no active configuration")
        return self.get(beamline, name)

    def revisions(self, beamline: str, name: str) -> list[Doc]:
        """This configuration's revisions, newest first (not those of a deleted one of the same name)."""
        history = self._doc(beamline, name).get("history")
        return [{"revision": d["revision"], "by": d["by"], "at": d["at"], "change": d["change"]}
                for d in self._revisions().find({"beamline": beamline, "name": name, "history": history})
                .sort("revision", DESCENDING)]

    def revision(self, beamline: str, name: str, revision: int) -> BeamlineConfig:
        history = self._doc(beamline, name).get("history")
        doc = self._revisions().find_one({"_id": _revision_id(beamline, name, history, revision)})
        if doc is None:
            raise NotFound(f"{beamline}/{name} has no revision {revision}")
        return BeamlineConfig.model_validate({**doc["config"], "revision": revision})

    # --- writing --------------------------------------------------------------

    def _record(self, config: BeamlineConfig, history: str | None, by: str, at: datetime, change: str) -> None:
        self._revisions().insert_one({
            "_id": _revision_id(config.beamline, config.name, history, config.revision), "beamline": config.beamline,
            "name": config.name, "history": history, "revision": config.revision,
            "config": config.model_dump(mode="json"), "by": by, "at": at, "change": change})

    def create(self, config: BeamlineConfig, by: str, at: datetime, *, change: str = "created") -> BeamlineConfig:
        """A new configuration at revision 1, with a history of its own; the beamline's first one
        becomes its active one."""
        made = config.model_copy(update={"revision": 1})
        history = str(ObjectId())
        try:
            self._configs().insert_one({"_id": _id(made.beamline, made.name), "beamline": made.beamline,
                                        "name": made.name, "history": history, "revision": 1,
                                        "config": made.model_dump(mode="json"), "updatedAt": at, "updatedBy": by})
        except DuplicateKeyError as err:
            raise Conflict(f"{made.beamline} already has a configuration {made.name!r}") from err
        self._record(made, history, by, at, change)
        self._active().update_one({"_id": made.beamline},
                                  {"$setOnInsert": {"name": made.name, "changedAt": at, "changedBy": by}}, upsert=True)
        return made

    def update(self, beamline: str, name: str, config: BeamlineConfig, base_revision: int, by: str, at: datetime,
               *, change: str | None = None) -> BeamlineConfig:
        """Save ``config`` as the next revision, if the stored one is still ``base_revision``."""
        if (config.beamline, config.name) != (beamline, name):
            raise Invalid("a save keeps the configuration's beamline and name: duplicate it to rename it")
        doc = self._doc(beamline, name)
        current, history = _config(doc), doc.get("history")
        saved = config.model_copy(update={"revision": base_revision + 1})
        # The history key too: a configuration deleted and made again meanwhile is another one.
        result = self._configs().update_one(
            {"_id": _id(beamline, name), "revision": base_revision, "history": history},
            {"$set": {"revision": saved.revision, "config": saved.model_dump(mode="json"), "updatedAt": at,
                      "updatedBy": by}})
        if result.matched_count == 0:
            now = self._doc(beamline, name)
            if now.get("history") != history:
                raise Conflict(f"{beamline}/{name} was deleted and created again while this save was being made: "
                               "reload it and apply your change again")
            latest = _config(now)
            raise Conflict(f"{beamline}/{name} is at revision {latest.revision} (by {self._by(latest)}), "
                           f"but this save was made from revision {base_revision}: reload it and apply your change "
                           "again")
        self._record(saved, history, by, at, change or summary(diff(current, saved)))
        return saved

    def _by(self, config: BeamlineConfig) -> str:
        doc = self._configs().find_one({"_id": _id(config.beamline, config.name)}, {"updatedBy": 1})
        return str((doc or {}).get("updatedBy", "someone"))

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
        if self._configs().delete_one({"_id": _id(beamline, name)}).deleted_count == 0:
            raise NotFound(f"{beamline} has no configuration {name!r}")

    def set_active(self, beamline: str, name: str, by: str, at: datetime) -> None:
        self.get(beamline, name)
        self._active().update_one({"_id": beamline}, {"$set": {"name": name, "changedAt": at, "changedBy": by}},
                                  upsert=True)

    def import_config(self, config: BeamlineConfig, by: str, at: datetime) -> BeamlineConfig:
        """Create it, or save it as the next revision of the one of the same name."""
        try:
            current = self.get(config.beamline, config.name)
        except NotFound:
            return self.create(config, by, at, change="imported")
        return self.update(config.beamline, config.name, config, current.revision, by, at,
                           change="imported: " + summary(diff(current, config)))

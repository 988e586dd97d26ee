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

from ._configs import (
    ConfigRules,
    check_same,
    config_id,
    config_of,
    revision_id,
    revision_of,
    stale,
    summary_of,
    taken,
)
from ._errors import NotFound

Doc = dict[str, Any]


class ConfigStore(ConfigRules):
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
        return [summary_of(d, active) for d in self._configs().find({"beamline": beamline}).sort("name")]

    def _doc(self, beamline: str, name: str) -> Doc:
        doc = self._configs().find_one({"_id": config_id(beamline, name)})
        if doc is None:
            raise NotFound(f"{beamline} has no configuration {name!r}")
        return doc

    def get(self, beamline: str, name: str) -> BeamlineConfig:
        return config_of(self._doc(beamline, name))

    def active_name(self, beamline: str) -> str | None:
        doc = self._active().find_one({"_id": beamline})
        return None if doc is None else str(doc["name"])

    def revisions(self, beamline: str, name: str) -> list[Doc]:
        """This configuration's revisions, newest first (not those of a deleted one of the same name)."""
        history = self._doc(beamline, name).get("history")
        return [revision_of(d) for d in self._revisions().find({"beamline": beamline, "name": name, "history": history})
                .sort("revision", DESCENDING)]

    def revision(self, beamline: str, name: str, revision: int) -> BeamlineConfig:
        history = self._doc(beamline, name).get("history")
        doc = self._revisions().find_one({"_id": revision_id(beamline, name, history, revision)})
        if doc is None:
            raise NotFound(f"{beamline}/{name} has no revision {revision}")
        return BeamlineConfig.model_validate({**doc["config"], "revision": revision})

    # --- writing --------------------------------------------------------------

    def _record(self, config: BeamlineConfig, history: str | None, by: str, at: datetime, change: str) -> None:
        self._revisions().insert_one({
            "_id": revision_id(config.beamline, config.name, history, config.revision), "beamline": config.beamline,
            "name": config.name, "history": history, "revision": config.revision,
            "config": config.model_dump(mode="json"), "by": by, "at": at, "change": change})

    def create(self, config: BeamlineConfig, by: str, at: datetime, *, change: str = "created") -> BeamlineConfig:
        """A new configuration at revision 1, with a history of its own; the beamline's first one
        becomes its active one."""
        made = config.model_copy(update={"revision": 1})
        history = str(ObjectId())
        try:
            self._configs().insert_one({"_id": config_id(made.beamline, made.name), "beamline": made.beamline,
                                        "name": made.name, "history": history, "revision": 1,
                                        "config": made.model_dump(mode="json"), "updatedAt": at, "updatedBy": by})
        except DuplicateKeyError as err:
            raise taken(made) from err
        self._record(made, history, by, at, change)
        self._active().update_one({"_id": made.beamline},
                                  {"$setOnInsert": {"name": made.name, "changedAt": at, "changedBy": by}}, upsert=True)
        return made

    def update(self, beamline: str, name: str, config: BeamlineConfig, base_revision: int, by: str, at: datetime,
               *, change: str | None = None) -> BeamlineConfig:
        """Save ``config`` as the next revision, if the stored one is still ``base_revision``."""
        check_same(beamline, name, config)
        doc = self._doc(beamline, name)
        current, history = config_of(doc), doc.get("history")
        saved = config.model_copy(update={"revision": base_revision + 1})
        # The history key too: a configuration deleted and made again meanwhile is another one.
        result = self._configs().update_one(
            {"_id": config_id(beamline, name), "revision": base_revision, "history": history},
            {"$set": {"revision": saved.revision, "config": saved.model_dump(mode="json"), "updatedAt": at,
                      "updatedBy": by}})
        if result.matched_count == 0:
            raise stale(beamline, name, self._doc(beamline, name), history, base_revision)
        self._record(saved, history, by, at, self.change_of(current, saved, change))
        return saved

    def _remove(self, beamline: str, name: str) -> bool:
        return self._configs().delete_one({"_id": config_id(beamline, name)}).deleted_count > 0

    def _activate(self, beamline: str, name: str, by: str, at: datetime) -> None:
        self._active().update_one({"_id": beamline}, {"$set": {"name": name, "changedAt": at, "changedBy": by}},
                                  upsert=True)

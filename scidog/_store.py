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
    INDEXED_COLLECTIONS,
    BeamlineConfig,
    ensure_collection_indexes,
    ensure_collections,
    ensure_indexes,
)
from scizoo.ops.store import ping_store

from ._configs import (
    ConfigRules,
    config_id,
    revision_of,
    summary_of,
)

Doc = dict[str, Any]


class ConfigStore(ConfigRules):
    """scidog's every query and write. One client, opened lazily, closed once."""

    def __init__(self, uri: SecretStr, database: str, *, connect_timeout_s: float = 10.0) -> None:
        self._uri = uri
        self._database = database
        self._timeout_ms = int(connect_timeout_s * 1000)
        self._lock = threading.Lock()
        self._client: MongoClient[Doc] | None = None
        # scidog's own indexes create its collections, so they are built once, before anything
        # else reads or writes them: SecantusDB was seen to hang when the start-up build and a
        # request's first insert created the same new collection at the same moment. Only these:
        # the catalogue's (datasets, their wildcard index, the migration) take minutes on a large
        # one, and the editor does not wait for them.
        self._indexes_tried = threading.Event()
        self._indexes_lock = threading.Lock()

    def db(self) -> Database[Doc]:
        with self._lock:
            if self._client is None:
                self._client = MongoClient(self._uri.get_secret_value(), tz_aware=True)
            return self._client[self._database]

    def _built(self) -> Database[Doc]:
        if not self._indexes_tried.is_set():
            self._own_indexes()
        return self.db()

    def _own_indexes(self) -> None:
        """Create scidog's indexes (and so its collections), once a process: callers that come
        while the build runs wait for it. Tried once: a store that was away at start serves
        without them (the next start builds them)."""
        with self._indexes_lock:
            if self._indexes_tried.is_set():
                return
            try:
                ensure_collection_indexes(self.db(), [CONFIGURATION_COLLECTION, CONFIGURATION_REVISION_COLLECTION])
            finally:
                self._indexes_tried.set()

    def _configs(self) -> Collection[Doc]:
        return self._built()[CONFIGURATION_COLLECTION]

    def _revisions(self) -> Collection[Doc]:
        return self._built()[CONFIGURATION_REVISION_COLLECTION]

    def _active(self) -> Collection[Doc]:
        return self._built()[ACTIVE_CONFIGURATION_COLLECTION]

    def ping(self) -> None:
        ping_store(self._uri.get_secret_value(), self._timeout_ms / 1000, service="scidog", setting="SCIDOG_MONGO_URI")

    def ensure_collections(self) -> None:
        """The catalogue's collections, before the first write (:func:`scizoo.core.ensure_collections`)."""
        ensure_collections(self.db(), INDEXED_COLLECTIONS)

    def ensure_indexes(self) -> None:
        """scidog's indexes first (requests wait for those alone), then the whole catalogue's."""
        self._own_indexes()
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

    def _config_doc(self, beamline: str, name: str) -> Doc | None:
        return self._configs().find_one({"_id": config_id(beamline, name)})

    def _active_doc(self, beamline: str) -> Doc | None:
        return self._active().find_one({"_id": beamline})

    def _revision_doc(self, key: str) -> Doc | None:
        return self._revisions().find_one({"_id": key})

    def revisions(self, beamline: str, name: str) -> list[Doc]:
        """This configuration's revisions, newest first (not those of a deleted one of the same name)."""
        history = self._doc(beamline, name).get("history")
        return [revision_of(d) for d in self._revisions().find({"beamline": beamline, "name": name, "history": history})
                .sort("revision", DESCENDING)]

    # --- writing --------------------------------------------------------------

    def _new_history(self) -> str:
        return str(ObjectId())

    def _insert(self, config: Doc, revision: Doc) -> bool:
        try:
            self._configs().insert_one(config)
        except DuplicateKeyError:
            return False
        self._revisions().insert_one(revision)
        return True

    def _activate_first(self, beamline: str, name: str, by: str, at: datetime) -> None:
        self._active().update_one({"_id": beamline},
                                  {"$setOnInsert": {"name": name, "changedAt": at, "changedBy": by}}, upsert=True)

    def _replace(self, saved: BeamlineConfig, history: str | None, base_revision: int, by: str, at: datetime,
                 revision: Doc) -> bool:
        # One conditional update: the check and the write cannot be split by another save.
        result = self._configs().update_one(
            {"_id": config_id(saved.beamline, saved.name), "revision": base_revision, "history": history},
            {"$set": {"revision": saved.revision, "config": saved.model_dump(mode="json"), "updatedAt": at,
                      "updatedBy": by}})
        if result.matched_count == 0:
            return False
        self._revisions().insert_one(revision)
        return True

    def _remove(self, beamline: str, name: str) -> bool:
        return self._configs().delete_one({"_id": config_id(beamline, name)}).deleted_count > 0

    def _activate(self, beamline: str, name: str, by: str, at: datetime) -> None:
        self._active().update_one({"_id": beamline}, {"$set": {"name": name, "changedAt": at, "changedBy": by}},
                                  upsert=True)

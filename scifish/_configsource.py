"""The active configuration of a beamline, from scidog's store, for every capture.

Read once, then kept current by a change stream (no store round trip on a scan's hot
path, no poll per scan). Every good copy is also written to a file, so a capture process
that starts while the store is away still captures with the last configuration it had.
When the store is unreachable, the last good copy is used and the log says so once.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from scizoo.core import (
    ACTIVE_CONFIGURATION_COLLECTION,
    CONFIGURATION_COLLECTION,
    BeamlineConfig,
    ConfigError,
    redact,
)

logger = logging.getLogger(__name__)

RETRY_S = 2.0


class ActiveConfig:
    """``current()`` is the beamline's active configuration as last seen; ``start()`` keeps it so."""

    def __init__(self, uri: str, database: str, beamline: str, cache_file: Path, *,
                 connect_timeout_s: float = 5.0) -> None:
        self._uri = uri
        self._database = database
        self.beamline = beamline
        self.cache_file = cache_file
        self._timeout_ms = int(connect_timeout_s * 1000)
        self._config: BeamlineConfig | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._changed = threading.Event()
        self._thread: threading.Thread | None = None
        self._unreachable = False

    def start(self, wait_s: float = 5.0) -> ActiveConfig:
        """Load the disk copy, then follow the store (waiting up to ``wait_s`` for a first answer)."""
        self._config = self._from_disk()
        self._thread = threading.Thread(target=self._follow, name="scifish-config", daemon=True)
        self._thread.start()
        self._changed.wait(wait_s)
        return self

    def current(self) -> BeamlineConfig:
        """The configuration to capture with; :class:`ConfigError` if none was ever seen."""
        with self._lock:
            if self._config is None:
                raise ConfigError(f"no active configuration of {self.beamline} yet: the store at "
                                  f"{redact(self._uri)} has not answered and {self.cache_file} holds none")
            return self._config

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    # --- in the follower thread -------------------------------------------------

    def _follow(self) -> None:
        client: MongoClient[dict[str, Any]] = MongoClient(self._uri, tz_aware=True,
                                                          serverSelectionTimeoutMS=self._timeout_ms)
        db = client[self._database]
        watched = [{"$match": {"ns.coll": {"$in": [ACTIVE_CONFIGURATION_COLLECTION, CONFIGURATION_COLLECTION]}}}]
        try:
            while not self._stop.is_set():
                try:
                    with db.watch(watched, max_await_time_ms=250) as stream:
                        self._load(db)  # after the stream opened: no change falls between the two
                        while not self._stop.is_set():
                            if stream.try_next() is not None:
                                self._load(db)
                except PyMongoError as err:
                    self._lost(err)
                    self._stop.wait(RETRY_S)
        finally:
            client.close()

    def _load(self, db: Any) -> None:
        active = db[ACTIVE_CONFIGURATION_COLLECTION].find_one({"_id": self.beamline})
        doc = None if active is None else db[CONFIGURATION_COLLECTION].find_one(
            {"_id": f"{self.beamline}/{active['name']}"})
        if doc is None:
            logger.warning("%s has no active configuration in the store; keeping the last one", self.beamline)
            self._changed.set()
            return
        try:
            config = BeamlineConfig.model_validate({**doc["config"], "revision": doc["revision"]})
        except ValidationError as err:
            logger.error("the active configuration of %s is not valid (%s); keeping the last one",
                         self.beamline, err.error_count())
            return
        with self._lock:
            changed = self._config != config
            self._config = config
        if self._unreachable:
            logger.warning("the configuration store is back; %s captures with %s revision %d",
                           self.beamline, config.name, config.revision)
            self._unreachable = False
        elif changed:
            logger.info("%s captures with %s revision %d", self.beamline, config.name, config.revision)
        if changed:
            self._to_disk(config)
        self._changed.set()

    def _lost(self, err: PyMongoError) -> None:
        if not self._unreachable:  # once, not at every retry
            with self._lock:
                had = self._config
            kept = f"{had.name} revision {had.revision}" if had else "nothing yet"
            logger.warning("the configuration store at %s is unreachable (%s); capturing with the last "
                           "configuration of %s: %s", redact(self._uri), type(err).__name__, self.beamline, kept)
            self._unreachable = True
        self._changed.set()

    def _from_disk(self) -> BeamlineConfig | None:
        try:
            return BeamlineConfig.model_validate_json(self.cache_file.read_bytes())
        except (OSError, ValueError):
            return None

    def _to_disk(self, config: BeamlineConfig) -> None:
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(config.model_dump(mode="json")), encoding="utf-8")
            os.replace(tmp, self.cache_file)
        except OSError as err:
            logger.warning("cannot keep the configuration in %s: %s", self.cache_file, err.strerror)

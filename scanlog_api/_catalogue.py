"""The connection to the catalogue: one MongoClient, opened lazily, closed once, shared by the stores.

The scan store, the publications and the OAI-PMH provider each read their own collections
through it; none reaches into another's.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import SecretStr
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import PyMongoError

from scizoo.core import INDEXED_COLLECTIONS, ensure_collections, ensure_indexes
from scizoo.ops.store import ping_store

Doc = dict[str, Any]


class Catalogue:
    """One lazily opened MongoClient over the catalogue; closed once, never re-opened."""

    def __init__(self, uri: SecretStr, database: str, *, connect_timeout_s: float = 10.0,
                 write_concern: tuple[int | str, bool] = ("majority", True)) -> None:
        self._uri = uri
        self._database = database
        self._write_concern = write_concern
        self._timeout_s = connect_timeout_s
        self._lock = threading.Lock()
        self._client: MongoClient[Doc] | None = None
        self._closed = False

    def db(self) -> Database[Doc]:
        with self._lock:
            if self._closed:
                raise PyMongoError("scanlog is shutting down")
            if self._client is None:
                w, j = self._write_concern
                self._client = MongoClient(self._uri.get_secret_value(), tz_aware=True, w=w, journal=j)
            return self._client[self._database]

    def collection(self, name: str) -> Collection[Doc]:
        return self.db()[name]

    def ping(self) -> None:
        """Check the store answers; :class:`DependencyUnavailable` in one sentence when it does not."""
        ping_store(self._uri.get_secret_value(), self._timeout_s, service="scanlog", setting="SCANLOG_MONGO_URI")

    def ensure_collections(self) -> None:
        """The catalogue's collections, before the first write (:func:`scizoo.core.ensure_collections`)."""
        ensure_collections(self.db(), INDEXED_COLLECTIONS)

    def ensure_indexes(self) -> None:
        """The catalogue's indexes, and its stored documents moved to the backend's shape."""
        ensure_indexes(self.db())

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._client is not None:
                self._client.close()
                self._client = None

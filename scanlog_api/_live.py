"""The live feed: one change stream on the Dataset collection, fanned out to SSE subscribers.

Each subscriber gets only rows it may read (``can_read``) and that match its filter.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import PyMongoError

from ._access import can_read
from ._auth import TokenUser
from ._table import jsonable, row

logger = logging.getLogger(__name__)


class Subscriber:
    def __init__(self, user: TokenUser | None, proposal: str | None, beamline: str | None) -> None:
        self.user, self.proposal, self.beamline = user, proposal, beamline
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self.overflowed = False

    def wants(self, doc: dict[str, Any]) -> bool:
        if self.proposal and self.proposal not in (doc.get("proposalIds") or []):
            return False
        if self.beamline and self.beamline not in (doc.get("instrumentIds") or []):
            return False
        return can_read(self.user, doc)

    def offer(self, item: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # A client too slow to keep up: its stream is ended rather than rows dropped;
            # the page reconnects and re-reads the table.
            self.overflowed = True


class LiveFeed:
    """One change stream on the Dataset collection, fanned out to subscribers."""

    def __init__(self, collection: Collection[dict[str, Any]]) -> None:
        self._collection = collection
        self._subscribers: set[Subscriber] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subscribers.add(sub)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="scanlog-feed", daemon=True)
                self._thread.start()

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    def _run(self) -> None:
        pipeline = [{"$match": {"operationType": {"$in": ["insert", "update", "replace"]}}}]
        while not self._stop.is_set():
            try:
                with self._collection.watch(pipeline, full_document="updateLookup", max_await_time_ms=250) as stream:
                    while not self._stop.is_set():
                        change = stream.try_next()
                        if change is None or not change.get("fullDocument"):
                            continue
                        doc = change["fullDocument"]
                        item = jsonable(row(doc))
                        with self._lock:
                            subs = list(self._subscribers)
                        for sub in subs:
                            if sub.wants(doc):
                                sub.loop.call_soon_threadsafe(sub.offer, item)
            except PyMongoError as err:
                logger.warning("change stream interrupted (%s); reopening", err)
                self._stop.wait(1.0)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


#: A quiet stream gets a comment line this often, so proxies keep it open.
KEEP_ALIVE_S = 15


async def sse_events(feed: LiveFeed, sub: Subscriber, is_disconnected: Any) -> Any:
    """The server-sent events of one subscriber, until it leaves or falls too far behind."""
    import json

    feed.subscribe(sub)
    try:
        yield b"retry: 1000\nevent: hello\ndata: {}\n\n"
        while not sub.overflowed and not await is_disconnected():
            try:
                item = await asyncio.wait_for(sub.queue.get(), timeout=KEEP_ALIVE_S)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            yield f"event: scan\ndata: {json.dumps(item)}\n\n".encode()
    finally:
        feed.unsubscribe(sub)

"""The live feed: one change stream on the Dataset collection, fanned out to SSE subscribers.

Each subscriber gets only the rows the table would show it: its selection with SciCat's
access rule, as the same branches the table queries with (``_access``), evaluated on the
document in hand by the same evaluator as the rule's predicate (``_match``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import OperationFailure, PyMongoError
from starlette.responses import StreamingResponse

from scizoo.ops import LIVE_STREAMS
from scizoo.web import TokenUser

from ._access import build_branches
from ._match import UnsupportedFilter, matches
from ._table import jsonable, row

logger = logging.getLogger(__name__)


class Subscriber:
    def __init__(self, user: TokenUser | None, proposal: str | None, beamline: str | None,
                 conditions: list[dict[str, Any]] | None = None) -> None:
        self.user, self.proposal, self.beamline = user, proposal, beamline
        # The metadata conditions' filters (``_conditions``) are in every branch: a new scan
        # is sent only if it matches them, as the table's query would select it.
        self.branches = build_branches(user, proposal=proposal, beamline=beamline, conditions=conditions)
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        #: Set when the stream can no longer be complete (too slow a client, a change stream
        #: that could not resume): the stream is ended and the page re-reads the table.
        self.overflowed = False

    def wants(self, doc: dict[str, Any]) -> bool:
        return any(matches(b, doc) for b in self.branches)

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

    def subscribe(self, sub: Subscriber, *, max_anonymous: int | None = None, max_per_user: int | None = None) -> bool:
        """Add a subscriber; False (and not added) when ``max_anonymous`` anonymous streams, or
        ``max_per_user`` of this user's, are open already. Checked and added under one lock: a
        burst of connects cannot all pass the check before any of them is counted."""
        with self._lock:
            if self._full(sub.user, max_anonymous, max_per_user):
                return False
            self._subscribers.add(sub)
            LIVE_STREAMS.set(len(self._subscribers))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="scanlog-feed", daemon=True)
                self._thread.start()
        return True

    def has_room(self, user: TokenUser | None, *, max_anonymous: int | None = None,
                 max_per_user: int | None = None) -> bool:
        """Whether :meth:`subscribe` would take another stream of ``user`` now: asked before the
        work of a subscription (its conditions' units are read), so a refused one costs nothing.
        A hint only: :meth:`subscribe` decides, under its lock."""
        with self._lock:
            return not self._full(user, max_anonymous, max_per_user)

    def _full(self, user: TokenUser | None, max_anonymous: int | None, max_per_user: int | None) -> bool:
        name = user.user if user is not None else None
        cap = max_anonymous if name is None else max_per_user
        same = sum(1 for s in self._subscribers if (s.user.user if s.user is not None else None) == name)
        return cap is not None and same >= cap

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(sub)
            LIVE_STREAMS.set(len(self._subscribers))

    def _run(self) -> None:
        pipeline = [{"$match": {"operationType": {"$in": ["insert", "update", "replace"]}}}]
        resume: Any = None  # where to pick up after an error, so no change in the gap is missed
        while not self._stop.is_set():
            try:
                with self._collection.watch(pipeline, full_document="updateLookup", max_await_time_ms=250,
                                            resume_after=resume) as stream:
                    while not self._stop.is_set():
                        change = stream.try_next()
                        resume = stream.resume_token or resume
                        if change is not None and change.get("fullDocument"):
                            self._fan_out(change["fullDocument"])
            except OperationFailure as err:
                # The token is too old for the store's history: changes may be lost to the
                # streams, so they end and their pages re-read the table.
                logger.warning("change stream cannot resume (%s); starting afresh", err)
                resume = None
                self._end_all()
                self._stop.wait(1.0)
            except PyMongoError as err:
                logger.warning("change stream interrupted (%s); resuming", err)
                self._stop.wait(1.0)

    def _fan_out(self, doc: dict[str, Any]) -> None:
        try:
            item = jsonable(row(doc))
        except (KeyError, TypeError, AttributeError, ValueError) as err:
            # Another writer's odd document: it stays in the store; the live table skips it.
            logger.warning("dataset %r is not a table row (%s: %s); not streamed", doc.get("_id"),
                           type(err).__name__, err)
            return
        with self._lock:
            subs = list(self._subscribers)
        for sub in subs:
            try:
                wanted = sub.wants(doc)
            except (TypeError, AttributeError, UnsupportedFilter) as err:
                logger.warning("dataset %r not streamed: %s", doc.get("_id"), err)
                continue
            if wanted:
                sub.loop.call_soon_threadsafe(sub.offer, item)

    def _end_all(self) -> None:
        with self._lock:
            subs = list(self._subscribers)
        for sub in subs:
            sub.overflowed = True

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


#: A quiet stream gets a comment line this often, so proxies keep it open.
KEEP_ALIVE_S = 15


async def sse_events(feed: LiveFeed, sub: Subscriber, is_disconnected: Any) -> Any:
    """The server-sent events of one subscriber (already subscribed to ``feed``), until it
    leaves, falls too far behind, or its token expires (then an ``expired`` event: the page
    asks for a new token)."""
    import json
    from datetime import UTC, datetime

    expires = sub.user.expires_at if sub.user is not None else None
    try:
        yield b"retry: 1000\nevent: hello\ndata: {}\n\n"
        while not sub.overflowed and not await is_disconnected():
            left = (expires - datetime.now(UTC)).total_seconds() if expires else KEEP_ALIVE_S
            if left <= 0:
                yield b"event: expired\ndata: {}\n\n"
                return
            try:
                item = await asyncio.wait_for(sub.queue.get(), timeout=min(KEEP_ALIVE_S, left))
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            yield f"event: scan\ndata: {json.dumps(item)}\n\n".encode()
    finally:
        feed.unsubscribe(sub)


class EventStream(StreamingResponse):
    """A subscriber's stream that leaves the feed however the response ends, also when the
    client went away before its first event (then the events' generator never ran)."""

    def __init__(self, feed: LiveFeed, sub: Subscriber, is_disconnected: Any) -> None:
        super().__init__(sse_events(feed, sub, is_disconnected), media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self._feed, self._sub = feed, sub

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._feed.unsubscribe(self._sub)

"""The tally: how many datasets each access key holds, per hour, kept up to date in memory.

Why: a store that fetches every match to count or sort them (SecantusDB does; measured in
docs/performance.md) makes a proposal with 10,000 scans cost about a second per page. The
tally answers the table's total without touching the store, and tells a page query how far
back in time it must look to find its rows, so the store reads that window only.

What it holds: for each dataset, its *key* (ownerGroup, accessGroups, isPublished,
proposalIds, instrumentIds: the fields the table's access branches filter on) and the hour
of its creationTime; summed, the number of datasets per key and hour. It is built by one
read of those fields over the collection and then follows the collection's change stream
(opened before that read, so nothing in between is missed; a dataset seen by both is
counted once, since each dataset is kept by its id). Every writer is followed: scicow,
scireduce, SciCat's own backend, an administrator deleting by hand.

Hand-written: no library keeps such counts for MongoDB (a materialised view would be the
store's job, and SecantusDB has none). The matching of a branch against a key supports
only the operators :func:`~scanlog_api._access.build_branches` writes (equality, ``$in``,
``$nin``, ``$ne``), evaluated by ``_match`` as the access rule's predicate is; any other
filter is answered by the store, as before.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pymongo.collection import Collection
from pymongo.errors import OperationFailure, PyMongoError

from ._match import UnsupportedFilter, condition_holds

logger = logging.getLogger(__name__)

Doc = dict[str, Any]
HOUR_S = 3600
#: The fields a key holds, in the order of :class:`Key`.
KEY_FIELDS = ("ownerGroup", "accessGroups", "isPublished", "proposalIds", "instrumentIds")
_LIST_FIELDS = frozenset({"accessGroups", "proposalIds", "instrumentIds"})
#: Datetime bounds of the windows the page queries get (as the store compares them).
_BOUND_OPS = frozenset({"$gte", "$lte"})


class Key(NamedTuple):
    ownerGroup: Hashable
    accessGroups: tuple[Hashable, ...]
    isPublished: Hashable
    proposalIds: tuple[Hashable, ...]
    instrumentIds: tuple[Hashable, ...]


class _Odd(NamedTuple):
    """A value the tally does not match as MongoDB would (an object, a list where SciCat has
    one string): a branch that could meet it is answered by the store."""

    text: str


class _Bool(NamedTuple):
    """A boolean, kept apart from the numbers (in Python ``True == 1``; MongoDB's ``true`` is
    not the number 1)."""

    value: bool


def _plain(value: Any) -> Hashable:
    if isinstance(value, bool):
        return _Bool(value)
    if isinstance(value, (str, int, float)) or value is None:
        return value
    return _Odd(repr(value))


def _scalar(value: Any) -> Hashable:
    """A field SciCat holds as one value: a list there (or any other odd value) is odd."""
    return _Odd(repr(value)) if isinstance(value, (list, dict)) else _plain(value)


def key_of(doc: Doc) -> Key:
    """A dataset's key, whatever types another writer gave its fields."""
    values: list[Any] = []
    for field in KEY_FIELDS:
        value = doc.get(field)
        if field in _LIST_FIELDS:
            items = value if isinstance(value, list) else ([] if value is None else [value])
            values.append(tuple(_plain(v) for v in items))
        else:
            values.append(_scalar(value))
    return Key(*values)


def hour_of(doc: Doc) -> int | None:
    when = doc.get("creationTime")
    if not isinstance(when, datetime):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() // HOUR_S)


class _Unsupported(Exception):
    """A branch holds a filter the tally cannot evaluate: the store answers it."""


def _value(field: Hashable | tuple[Hashable, ...]) -> Any:
    """A key's field as the document held it, for ``_match`` (which knows MongoDB's meaning
    of a list field and of a boolean); an odd value is not the tally's to match."""
    if isinstance(field, _Odd):
        raise _Unsupported(field)
    if isinstance(field, _Bool):
        return field.value
    if isinstance(field, tuple):
        return [_value(v) for v in field]
    return field


def matches(branch: Doc, key: Key) -> bool:
    """Whether every dataset of ``key`` matches the flat filter ``branch`` (its key fields only),
    by the same evaluator the access rule's predicate uses.

    Raises :class:`_Unsupported` for a field the key does not hold (a time range, a rating,
    a list of pids), or an operator beyond the access rule's: such a branch is not the
    tally's to answer.
    """
    fields = key._asdict()
    for field, condition in branch.items():
        if field not in fields or (isinstance(condition, dict) and "$exists" in condition):
            raise _Unsupported(field)  # ($exists: a key holds a missing field as null)
        try:
            if not condition_holds(_value(fields[field]), condition):
                return False
        except UnsupportedFilter as err:
            raise _Unsupported(condition) from err
    return True


class Tally:
    """Datasets per key and hour, following the collection's change stream.

    Parameters
    ----------
    collection
        The Dataset collection, or a function returning it: called when the tally starts, so
        that an app that never starts opens no client.
    answer_from
        Selections the tally counts below this many datasets are answered by the store
        (small ones cost it little, and the store is exact the moment a write returns,
        while the tally follows a fraction of a second behind).
    """

    def __init__(self, collection: Collection[Doc] | Callable[[], Collection[Doc]], *,
                 answer_from: int = 1000) -> None:
        self._source = collection
        self.answer_from = answer_from
        self._lock = threading.Lock()
        #: pid -> (key, hour): which count each dataset is in, to move or drop it on a change.
        self._where: dict[Hashable, tuple[Key, int | None]] = {}
        self._hours: dict[Key, Counter[int | None]] = defaultdict(Counter)
        self._by_proposal: dict[Hashable, set[Key]] = defaultdict(set)
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        # (A pymongo Collection is callable too, and raises: ask what it is instead.)
        self._collection = self._source if isinstance(self._source, Collection) else self._source()
        self._thread = threading.Thread(target=self._run, name="scanlog-tally", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        resume: Any = None
        while not self._stop.is_set():
            try:
                with self._collection.watch(full_document="updateLookup", max_await_time_ms=250,
                                            resume_after=resume) as stream:
                    if not self.ready.is_set():
                        resume = stream.resume_token
                        self._build()
                    while not self._stop.is_set():
                        change = stream.try_next()
                        resume = stream.resume_token or resume
                        if change is not None:
                            self._apply(change)
            except OperationFailure as err:
                # The store's history no longer reaches the token: changes may be missed,
                # so the tally is built again (the store answers meanwhile).
                logger.warning("the tally's change stream cannot resume (%s); counting afresh", err)
                with self._lock:
                    self.ready.clear()
                resume = None
                self._stop.wait(1.0)
            except PyMongoError as err:
                logger.warning("the tally's change stream was interrupted (%s); resuming", err)
                self._stop.wait(1.0)

    def _build(self) -> None:
        with self._lock:
            self.ready.clear()
            self._where.clear()
            self._hours.clear()
            self._by_proposal.clear()
        projection = dict.fromkeys((*KEY_FIELDS, "creationTime"), 1)
        seen = 0
        for doc in self._collection.find({}, projection).batch_size(10_000):
            if self._stop.is_set():
                return
            with self._lock:
                self._put(doc["_id"], doc)
            seen += 1
        with self._lock:
            self.ready.set()
        logger.info("tally of %d datasets built; following the change stream", seen)

    def _apply(self, change: Doc) -> None:
        kind = change.get("operationType")
        if kind in {"drop", "dropDatabase", "rename", "invalidate"}:
            with self._lock:
                self.ready.clear()
            raise OperationFailure(f"the collection's change stream ended ({kind})")  # built again by _run
        pid = (change.get("documentKey") or {}).get("_id")
        if pid is None:
            return
        # Every change is put again from the document as it now is (updateLookup): cheap, and
        # no field list to trust (an array cut short shows only in truncatedArrays).
        doc = change.get("fullDocument")
        with self._lock:
            self._drop(pid)
            if kind != "delete" and doc is not None:  # None: deleted since (its delete follows)
                self._put(pid, doc)

    def _put(self, pid: Hashable, doc: Doc) -> None:
        self._drop(pid)
        key, hour = key_of(doc), hour_of(doc)
        self._where[pid] = (key, hour)
        self._hours[key][hour] += 1
        for proposal in key.proposalIds:
            self._by_proposal[proposal].add(key)

    def _drop(self, pid: Hashable) -> None:
        was = self._where.pop(pid, None)
        if was is None:
            return
        key, hour = was
        hours = self._hours[key]
        hours[hour] -= 1
        if hours[hour] <= 0:
            del hours[hour]
        if not hours:
            del self._hours[key]
            for proposal in key.proposalIds:
                self._by_proposal[proposal].discard(key)

    # --- answers ------------------------------------------------------------

    def _keys(self, branch: Doc) -> list[Key]:
        proposal = branch.get("proposalIds")
        candidates = self._by_proposal.get(proposal, set()) if isinstance(proposal, str) else self._hours.keys()
        return [k for k in candidates if matches(branch, k)]

    def count(self, branch: Doc) -> int | None:
        """How many datasets match; None when the store must answer (not built yet, a filter
        the tally cannot evaluate, or a selection under ``answer_from``)."""
        total = self.total(branch)
        return total if total is not None and total >= self.answer_from else None

    def _per_hour(self, branch: Doc) -> Counter[int | None] | None:
        """The branch's datasets per hour of creationTime (None: the tally cannot say)."""
        try:
            with self._lock:
                if not self.ready.is_set():  # checked under the lock: a rebuild clears it there
                    return None
                per_hour: Counter[int | None] = Counter()
                for k in self._keys(branch):
                    per_hour.update(self._hours[k])
        except _Unsupported:
            return None
        return per_hour

    def beamlines(self, branch: Doc) -> set[Hashable] | None:
        """The beamlines (instrumentIds) of a branch's datasets; None when the store must answer
        (as for :meth:`count`, small selections included)."""
        try:
            with self._lock:
                if not self.ready.is_set():  # checked under the lock: a rebuild clears it there
                    return None
                keys = self._keys(branch)
                total = sum(sum(self._hours[k].values()) for k in keys)
        except _Unsupported:
            return None
        if total < self.answer_from:
            return None
        return {b for k in keys for b in k.instrumentIds}

    def total(self, branch: Doc) -> int | None:
        """The tally's count of a branch, however small (None: it cannot say)."""
        try:
            with self._lock:
                if not self.ready.is_set():  # checked under the lock: a rebuild clears it there
                    return None
                return sum(sum(self._hours[k].values()) for k in self._keys(branch))
        except _Unsupported:
            return None

    def slice(self, branch: Doc, newest_first: bool, skip: int, limit: int) -> tuple[Doc, int] | None:
        """A later page as a window of hours and a skip within it: the branch narrowed to the
        hours holding its rows ``skip`` to ``skip + limit`` (in creationTime order), and how
        many of the window's rows come before them. For a branch without a time range only
        (a range cuts hours, and the counts of whole hours would misplace the skip)."""
        per_hour = self._per_hour(branch) if "creationTime" not in branch else None
        if per_hour is None:
            return None
        if not newest_first and per_hour.get(None):
            return None
        before, first = 0, None
        for hour in sorted((h for h in per_hour if h is not None), reverse=newest_first):
            if first is None and before + per_hour[hour] > skip:
                first, inner = hour, skip - before
            before += per_hour[hour]
            if first is not None and before >= skip + limit:
                newer, older = (first, hour) if newest_first else (hour, first)
                bound = {"$gte": datetime.fromtimestamp(older * HOUR_S, UTC),
                         "$lt": datetime.fromtimestamp((newer + 1) * HOUR_S, UTC)}
                return {"creationTime": bound, **branch}, inner
        return None

    def window(self, branch: Doc, newest_first: bool, rows: int) -> Doc | None:
        """The branch narrowed to the hours that hold its first ``rows`` datasets in
        creationTime order (None: no narrowing is known to be safe or worth it)."""
        time_range = branch.get("creationTime")
        if time_range is not None and not (isinstance(time_range, dict) and set(time_range) <= _BOUND_OPS):
            return None
        rest = {f: c for f, c in branch.items() if f != "creationTime"}
        per_hour = self._per_hour(rest)
        if per_hour is None:
            return None
        if sum(per_hour.values()) < max(self.answer_from, rows):
            return None
        if not newest_first and per_hour.get(None):
            return None  # missing times sort first going up: no window holds them
        timed = {h: n for h, n in per_hour.items() if h is not None}
        low = _aware((time_range or {}).get("$gte"))
        high = _aware((time_range or {}).get("$lte"))
        found = 0
        for hour in sorted(timed, reverse=newest_first):
            start = datetime.fromtimestamp(hour * HOUR_S, UTC)
            end = datetime.fromtimestamp((hour + 1) * HOUR_S, UTC)
            if (low is not None and end <= low) or (high is not None and start > high):
                continue
            found += timed[hour]  # a whole hour, though the range may cut it: more, never fewer
            if found >= rows:
                bound: Doc = {}
                if newest_first:
                    bound["$gte"] = max(start, low) if low else start
                    if high is not None:
                        bound["$lte"] = high
                else:
                    if high is not None and high < end:
                        bound["$lte"] = high
                    else:
                        bound["$lt"] = end
                    if low is not None:
                        bound["$gte"] = low
                # The time range first: the store starts from the first field's index.
                return {"creationTime": bound, **rest}
        return None


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

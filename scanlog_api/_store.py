"""The scan store: every MongoDB query and write of the scans, their annotations and the pickers.

Routes call these methods (the interface is ``_ports.Scans``; the rules above any store
are ``_scans.ScanRules``); the access rule comes in as the branches of ``_access``; what
a user may not see raises :class:`NotFound`, so a dataset's existence never leaks.
Publications have their own store (``_publications``), the reductions theirs
(``_reductions``), on the same connection (``_catalogue``).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from pydantic import SecretStr
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database

from scizoo.core import (
    ATTACHMENT_COLLECTION,
    COMMENT_COLLECTION,
    DATASET_COLLECTION,
    ELOG_ENTRY_COLLECTION,
    FIXITY_COLLECTION,
    ORIG_DATABLOCK_COLLECTION,
    PROPOSAL_COLLECTION,
    RATING_COLLECTION,
    attachments_of,
    build_attachment,
)
from scizoo.web import TokenUser

from ._access import build_branches, read_branches
from ._catalogue import Catalogue
from ._errors import NotFound
from ._held_keys import HeldKeys
from ._match import note_units, outermost, reached_values
from ._scans import (
    MAX_EXPORT_ROWS,
    MAX_PICKER,
    Doc,
    Order,
    ScanRules,
    add_keys,
    average_rating,
    comment_out,
    detail_view,
)
from ._table import sort_key
from ._tally import Tally

logger = logging.getLogger(__name__)

#: The column picker's keys come from at most this many of the newest scans of the selection.
MAX_KEYS_SCAN = 20_000
#: Several branches' windowed rows are held to check them: up to this many rows a branch.
MAX_WINDOWED_ROWS = 5_000

#: The most scans a branch's nested key's units are read from (a condition's selection is
#: bounded before, by MAX_CONDITION_SCAN; this bounds any other caller).
MAX_UNIT_READS = 50_000

#: How many of one user's ratings of one scan are kept (the latest; the average uses the last).
RATINGS_KEPT = 20


class ScanStore(ScanRules):
    """The scans, their annotations and the pickers, over the catalogue's one client
    (:class:`~scanlog_api._catalogue.Catalogue`, opened lazily, closed once)."""

    def __init__(self, uri: SecretStr, database: str, *, connect_timeout_s: float = 10.0,
                 staff_comment_groups: dict[str, str] | None = None,
                 write_concern: tuple[int | str, bool] = ("majority", True),
                 max_export_rows: int = MAX_EXPORT_ROWS) -> None:
        super().__init__(staff_comment_groups=staff_comment_groups, max_export_rows=max_export_rows)
        #: The connection, shared with the stores beside this one (publications, OAI-PMH).
        self.catalogue = Catalogue(uri, database, connect_timeout_s=connect_timeout_s, write_concern=write_concern)
        #: Counts per access key and hour, for large selections (see ``_tally``); None: off.
        self.tally: Tally | None = None
        #: Which metadata keys a scope of the access rule holds (see :meth:`metadata_keys`):
        #: conditions check their keys at every request.
        self._held = HeldKeys(self._read, self._newest, lambda: self.tally)

    # --- lifecycle ----------------------------------------------------------

    def _db(self) -> Database[Doc]:
        return self.catalogue.db()

    @property
    def datasets(self) -> Collection[Doc]:
        return self._db()[DATASET_COLLECTION]

    def ping(self) -> None:
        """Check the store answers; :class:`DependencyUnavailable` in one sentence when it does not."""
        self.catalogue.ping()

    def ensure_collections(self) -> None:
        """The catalogue's collections, before the first write (:func:`scizoo.core.ensure_collections`)."""
        self.catalogue.ensure_collections()

    def ensure_indexes(self) -> None:
        """The catalogue's indexes, and its stored documents moved to the backend's shape."""
        self.catalogue.ensure_indexes()

    def close(self) -> None:
        self.catalogue.close()

    # --- reading scans --------------------------------------------------------

    def readable(self, pid: str, user: TokenUser | None) -> Doc:
        """The dataset if the user may read it; else :class:`NotFound` (whether or not it exists)."""
        datasets = self.datasets
        doc = next((d for b in build_branches(user, pids=[pid]) if (d := datasets.find_one(b)) is not None), None)
        if doc is None:
            raise NotFound(f"no dataset {pid!r} you can read")
        return doc

    def _read(self, query: Doc, projection: Doc | None = None, *, sort: list[tuple[str, int]] | None = None,
              skip: int = 0, limit: int = 0, batch_size: int = 500, max_time_ms: int | None = None) -> Iterator[Doc]:
        """The datasets ``query`` selects, as ``find`` reads them. A query with logical operators
        at its top (metadata conditions: ``$and``/``$or``) is read as an aggregation whose first
        ``$match`` holds its plain fields and the second the rest: the same documents, but
        SecantusDB plans a filter holding a top-level ``$and``/``$or`` as a collection scan,
        and a plain first stage from its indexes (measured: docs/performance.md, "Search at
        scale"). MongoDB merges adjacent ``$match`` stages before planning, so its plans do not
        change; correctness never depends on either planner."""
        stages = _staged(query)
        if stages is None:
            cursor = self.datasets.find(query, projection).skip(skip).limit(limit).batch_size(batch_size)
            if sort:
                cursor = cursor.sort(sort)
            return cursor if max_time_ms is None else cursor.max_time_ms(max_time_ms)
        stages += [*([{"$sort": dict(sort)}] if sort else []), *([{"$skip": skip}] if skip else []),
                   *([{"$limit": limit}] if limit else []), *([{"$project": projection}] if projection else [])]
        options: Doc = {"batchSize": batch_size} | ({} if max_time_ms is None else {"maxTimeMS": max_time_ms})
        return self.datasets.aggregate(stages, **options)

    def _sorted(self, query: Doc, field: str, order: Order, limit: int = 0, skip: int = 0) -> Iterator[Doc]:
        direction = ASCENDING if order == "asc" else DESCENDING
        return self._read(query, sort=[(field, direction), ("_id", direction)], skip=skip, limit=limit)

    def merged(self, branches: list[Doc], field: str, order: Order, limit: int = 0) -> Iterator[Doc]:
        """The disjoint branches' documents as one sorted stream (each branch sorted by the store)."""
        cursors = [self._sorted(b, field, order, limit) for b in branches]
        return heapq.merge(*cursors, key=sort_key(field), reverse=order == "desc")

    def page(self, branches: list[Doc], field: str, order: Order, skip: int, limit: int) -> list[Doc]:
        """One page of the union: the first skip+limit of each branch, merged and sliced.

        In time order, with a tally, each large branch is read over the hours that hold its
        rows only (the store would otherwise fetch and sort every match); a window that
        turns out short (the tally a moment behind a delete) is read again unbounded.
        """
        rows = skip + limit
        tally = self.tally if field == "creationTime" else None
        if tally is not None and skip:
            later = self._later_page(tally, branches, order, skip, limit)
            if later is not None:
                return later
        windows = [tally.window(b, order == "desc", rows) if tally is not None else None for b in branches]
        if len(branches) == 1:  # the store skips, over the window when there is one
            if windows[0] is not None:
                found = list(self._sorted(windows[0], field, order, limit, skip))
                if len(found) == limit:
                    return found
            return list(self._sorted(branches[0], field, order, limit, skip))
        if rows > MAX_WINDOWED_ROWS:  # a window's rows are held in memory to check them: stream instead
            windows = [None] * len(branches)
        runs: list[Iterable[Doc]] = []
        for branch, window in zip(branches, windows, strict=True):
            found = list(self._sorted(window, field, order, rows)) if window is not None else []
            runs.append(found if len(found) >= rows else self._sorted(branch, field, order, rows))
        merged = heapq.merge(*runs, key=sort_key(field), reverse=order == "desc")
        return list(itertools.islice(merged, skip, rows))

    def _later_page(self, tally: Tally, branches: list[Doc], order: Order, skip: int, limit: int) -> list[Doc] | None:
        """A later page of a large selection whose rows are all in one branch (the usual:
        a proposal read by its members), read over the hours that hold it with the skip
        moved inside them; None when that does not apply (or the tally was a moment behind)."""
        totals = [tally.total(b) for b in branches]
        if any(t is None for t in totals) or sum(t or 0 for t in totals) < tally.answer_from:
            return None
        holding = [b for b, t in zip(branches, totals, strict=True) if t]
        if len(holding) != 1:
            return None
        sliced = tally.slice(holding[0], order == "desc", skip, limit)
        if sliced is None:
            return None
        window, inner = sliced
        docs = list(self._sorted(window, "creationTime", order, limit, inner))
        return docs if len(docs) == limit else None

    def count(self, branches: list[Doc]) -> int:
        """The datasets in the union: from the tally where it can answer, else by the store."""
        # One after the other: measured, the store answers side-by-side queries no faster.
        total = 0
        for branch in branches:
            tallied = self.tally.count(branch) if self.tally is not None else None
            total += self._count(branch) if tallied is None else tallied
        return total

    def _count(self, query: Doc) -> int:
        """The datasets ``query`` selects (staged as :meth:`_read` reads them)."""
        stages = _staged(query)
        if stages is None:
            return self.datasets.count_documents(query)
        return int(next(self.datasets.aggregate([*stages, {"$count": "n"}]), {"n": 0})["n"])

    def metadata_keys(self, branches: list[Doc], text: str | None,
                      among: list[str] | None = None) -> dict[str, str]:
        """Every scientificMetadata key in the selection (nested ones as ``outer.inner``), with a
        unit where one is known. With ``among``: which of these keys a scan of the selection
        holds (with the unit of the first found), whatever ``text``: remembered from an earlier
        request of the same access scope, else seen among its newest scans (read as a page is),
        else looked up, all within a bounded time (:class:`~scanlog_api._held_keys.HeldKeys`)."""
        if among is not None:
            return self._held.among(branches, among)
        keys: dict[str, str] = {}
        if text:  # free text: only the matching documents' keys
            everything = (d for b in branches for d in self._read(b))
            add_keys(keys, self.with_text(branches, text, everything))
        else:  # bounded work: the newest scans of each branch, through the time index
            for query in branches:
                add_keys(keys, self._read(query, {"scientificMetadata": 1}, sort=[("creationTime", DESCENDING)],
                                          limit=MAX_KEYS_SCAN, batch_size=1000))
        return dict(sorted(keys.items()))

    def units(self, columns: list[str], branches: list[Doc]) -> dict[str, str]:
        """The unit of each metadata column, from the newest scan of the selection that has one.

        One read of each branch, newest first, stopped once every column has a unit, and at
        most :data:`MAX_KEYS_SCAN` scans: a column that none of them holds with a unit is headed
        without one. (A look-up a column read the whole selection for a key no scan holds: 299
        such columns over 2,000 scans took 32 s.)"""
        fields = {col: f"scientificMetadata.{col[5:]}.unit" for col in columns if col.startswith("meta:")}
        units = dict.fromkeys(fields, "")
        for branch in branches:
            wanted = [col for col in fields if not units[col]]
            if not wanted:
                break
            # meta:sample with meta:sample.unit: the outer path's subtree holds the inner one.
            projection = dict.fromkeys(outermost(fields[c] for c in wanted), 1)
            for doc in self._read(branch, projection,
                                  sort=[("creationTime", DESCENDING)], limit=MAX_KEYS_SCAN, batch_size=1000):
                for col in wanted:
                    if not units[col]:
                        unit = next((u for u in reached_values(doc, fields[col]) if isinstance(u, str) and u), "")
                        units[col] = unit
                if all(units[c] for c in wanted):
                    break
        return units

    def key_unit_sets(self, branches: list[Doc], keys: list[str]) -> dict[str, tuple[set[str], set[str]]]:
        """For each (possibly nested) key: every unit it has in the selection, and the units of
        its entries without ``valueSI`` (compared in their own unit), in one read of each branch
        for all keys (two ``distinct`` a key a branch before: 12 reads for two conditions of a
        member). The units are read along the path as MongoDB's ``distinct`` reads them, through
        lists of objects too; an entry is "without ``valueSI``" as ``{path.valueSI: {$exists:
        false}}`` selects it: no ``valueSI`` reached at that path. The selection is bounded by the
        caller (``MAX_CONDITION_SCAN``), and each branch's read at :data:`MAX_UNIT_READS`."""
        out: dict[str, tuple[set[str], set[str]]] = {key: (set(), set()) for key in keys}
        if not keys:
            return out
        tops = sorted({f"scientificMetadata.{key.split('.')[0]}" for key in keys})
        for branch in branches:
            # One key: only the scans that hold it (a plain filter, planned from the branch's index).
            query = {**branch, tops[0]: {"$exists": True}} if len(tops) == 1 and tops[0] not in branch else branch
            for doc in self._read(query, dict.fromkeys(tops, 1), limit=MAX_UNIT_READS, batch_size=1000):
                note_units(out, doc)
        return out

    def facet_sample(self, branches: list[Doc], text: str | None, fields: list[str],
                     limit: int) -> tuple[list[Doc], int]:
        """The selection's newest ``limit`` documents (only ``fields``), and how many it holds.

        Bounded as a page is: each branch sorted by the time index and cut at ``limit``, over
        the hours that hold its newest rows when the tally knows them (a window that turns
        out short is read again unbounded). With free text, the whole (bounded) selection is
        read, as for the rows.
        """
        if text:
            return _first(self.with_text(branches, text, self.merged(branches, "creationTime", "desc")), limit)
        projection = dict.fromkeys((*fields, "creationTime"), 1)
        runs: list[Iterable[Doc]] = []
        for branch in branches:
            window = self.tally.window(branch, True, limit) if self.tally is not None else None
            found = list(self._newest(window, projection, limit)) if window is not None else []
            runs.append(found if len(found) >= limit else self._newest(branch, projection, limit))
        newest = heapq.merge(*runs, key=sort_key("creationTime"), reverse=True)
        return list(itertools.islice(newest, limit)), self.count(branches)

    def _newest(self, query: Doc, projection: Doc, limit: int, max_time_ms: int | None = None) -> Iterator[Doc]:
        return self._read(query, projection, sort=[("creationTime", DESCENDING), ("_id", DESCENDING)], limit=limit,
                          batch_size=1000, max_time_ms=max_time_ms)

    def detail(self, pid: str, user: TokenUser | None) -> Doc:
        """One scan with its files, attachments, ratings and comments."""
        doc = self.readable(pid, user)
        db = self._db()
        blocks = db[ORIG_DATABLOCK_COLLECTION].find({"datasetId": pid})
        # Each file with its block's checksum algorithm (SciCat keeps chkAlg on the block, chk per file).
        files = ({**f, "chkAlg": b["chkAlg"]} if f.get("chk") and b.get("chkAlg") else f
                 for b in blocks for f in b.get("dataFileList", []))
        return detail_view(doc, files=files,
                           attachments=db[ATTACHMENT_COLLECTION].find(attachments_of(pid)),
                           ratings=db[RATING_COLLECTION].find({"datasetId": pid}).sort("at", ASCENDING),
                           comments=db[COMMENT_COLLECTION].find({"datasetId": pid}).sort("createdAt", ASCENDING),
                           fixity=db[FIXITY_COLLECTION].find_one({"_id": pid}), reader=user)

    def fixity_of(self, pids: list[str]) -> dict[str, Doc]:
        """The fixity summaries (scifix's) of these datasets, by pid: one query by _id. The caller
        gives pids it has already read under the access rule (a page's rows)."""
        if not pids:
            return {}
        return {d["_id"]: d for d in self._db()[FIXITY_COLLECTION].find({"_id": {"$in": pids}})}

    def readable_ids(self, pids: list[Any], user: TokenUser | None) -> set[Any]:
        """Which of these datasets the user may read: one query by _id (indexed) per branch."""
        if not pids:
            return set()
        return {d["_id"] for b in build_branches(user, pids=pids) for d in self.datasets.find(b, {"_id": 1})}

    # --- pickers -------------------------------------------------------------

    def proposals(self, user: TokenUser | None, limit: int = MAX_PICKER) -> list[Doc]:
        """The proposals the user may read (SciCat's rule, on the Proposal document) and those
        with published datasets; id and title, newest first (proposal ids grow with time)."""
        db = self._db()
        wanted = read_branches(user)
        published = db[DATASET_COLLECTION].distinct("proposalIds", {"isPublished": True})
        if published:
            wanted.append({"_id": {"$in": [str(p) for p in published[:limit]]}})
        found: dict[str, Doc] = {}
        for query in wanted:
            for doc in db[PROPOSAL_COLLECTION].find(query, {"title": 1}).sort("_id", DESCENDING).limit(limit):
                found[str(doc["_id"])] = {"proposalId": str(doc["_id"]), "title": str(doc.get("title") or "")}
        return sorted(found.values(), key=lambda p: p["proposalId"], reverse=True)[:limit]

    def beamlines(self, branches: list[Doc], limit: int = MAX_PICKER) -> list[str]:
        """The beamlines of the scans the user may see."""
        seen: set[str] = set()
        for branch in branches:
            tallied = self.tally.beamlines(branch) if self.tally is not None else None
            found = self.datasets.distinct("instrumentIds", branch) if tallied is None else tallied
            seen.update(str(b) for b in found)
        return sorted(seen)[:limit]

    # --- annotations ----------------------------------------------------------

    def rate(self, pid: str, user: TokenUser, value: float | None, now: datetime) -> None:
        """Keep the rating in the history, and in the Dataset's ``dataQualityMetrics`` the
        average of each user's latest rating (writers only)."""
        self.writable(pid, user)
        db = self._db()
        ratings = db[RATING_COLLECTION]
        ratings.insert_one({"_id": uuid.uuid4().hex, "datasetId": pid, "user": user.user, "value": value, "at": now})
        # Each user's last RATINGS_KEPT ratings of a scan are its history: every click added one
        # before, and every rating (and every detail view) read them all.
        older = ratings.find({"datasetId": pid, "user": user.user}, {"_id": 1}).sort("at", DESCENDING)
        stale = [d["_id"] for d in older.skip(RATINGS_KEPT).limit(100)]
        if stale:
            ratings.delete_many({"_id": {"$in": stale}})
        # Two users rating at once may each read the history before the other's entry: whoever
        # wrote last sees that the history grew after its read, and writes the average again.
        # (Compared by ids, not by a count: a rating pruned while another is added keeps the count.)
        while True:
            history = list(ratings.find({"datasetId": pid}, {"user": 1, "value": 1, "at": 1}).sort("at", ASCENDING))
            average = average_rating(history)
            update: Doc = {"$set": {"updatedAt": now, "updatedBy": user.user}}
            if average is None:
                update["$unset"] = {"dataQualityMetrics": ""}
            else:
                update["$set"]["dataQualityMetrics"] = average
            db[DATASET_COLLECTION].update_one({"_id": pid}, update)
            if {d["_id"] for d in ratings.find({"datasetId": pid}, {"_id": 1})} == {d["_id"] for d in history}:
                return

    def add_comment(self, pid: str, user: TokenUser, text: str, now: datetime) -> Doc:
        self.commentable(pid, user)
        doc = {"_id": uuid.uuid4().hex, "datasetId": pid, "author": user.user, "text": text,
               "createdAt": now, "updatedAt": None}
        self._db()[COMMENT_COLLECTION].insert_one(doc)
        return comment_out(doc)

    def _own_comment(self, comment_id: str, user: TokenUser) -> Doc:
        return self.own_comment(self._db()[COMMENT_COLLECTION].find_one({"_id": comment_id}), user)

    def edit_comment(self, comment_id: str, user: TokenUser, text: str, now: datetime) -> Doc:
        doc = self._own_comment(comment_id, user)
        doc.update(text=text, updatedAt=now)
        self._db()[COMMENT_COLLECTION].update_one({"_id": comment_id}, {"$set": {"text": text, "updatedAt": now}})
        return comment_out(doc)

    def delete_comment(self, comment_id: str, user: TokenUser) -> None:
        self._own_comment(comment_id, user)
        self._db()[COMMENT_COLLECTION].delete_one({"_id": comment_id})

    def check_elog_entry(self, entry_id: str, user: TokenUser) -> None:
        """A user may append only to an e-logbook entry they made through scanlog."""
        self.check_elog_author(self._db()[ELOG_ENTRY_COLLECTION].find_one({"_id": entry_id}), entry_id, user)

    def record_elog_entry(self, entry_id: str, user: TokenUser, now: datetime) -> None:
        self._db()[ELOG_ENTRY_COLLECTION].update_one(
            {"_id": entry_id}, {"$setOnInsert": {"author": user.user, "createdAt": now}}, upsert=True)

    def attach(self, dataset: Doc, user: TokenUser, caption: str, thumbnail: str, now: datetime) -> Doc:
        """Store an image as a SciCat Attachment of a dataset the caller has read."""
        aid = str(uuid.uuid4())
        doc = build_attachment(dataset, aid=aid, caption=caption, thumbnail=thumbnail, user=user.user, now=now)
        self._db()[ATTACHMENT_COLLECTION].insert_one(doc.to_mongo())
        return {"aid": aid, "caption": caption, "thumbnail": thumbnail}


def _staged(query: Doc) -> list[Doc] | None:
    """``query`` as two ``$match`` stages, its plain fields first (see :meth:`ScanStore._read`);
    None when it has no logical operator at its top (a plain ``find`` plans it alike)."""
    rest = {k: v for k, v in query.items() if k.startswith("$")}
    if not rest:
        return None
    return [{"$match": {k: v for k, v in query.items() if not k.startswith("$")}}, {"$match": rest}]


def _first(docs: Iterable[Doc], limit: int) -> tuple[list[Doc], int]:
    """The first ``limit`` documents, and how many there were (all are read)."""
    kept: list[Doc] = []
    seen = 0
    for doc in docs:
        if seen < limit:
            kept.append(doc)
        seen += 1
    return kept, seen

"""The catalogue writer: every MongoDB write scicow makes, and nothing else."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import bson
from bson.errors import InvalidDocument
from pymongo import DeleteOne, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DocumentTooLarge, DuplicateKeyError
from pymongo.write_concern import WriteConcern

from scizoo.core import (
    DATASET_COLLECTION,
    INSTRUMENT_COLLECTION,
    ORIG_DATABLOCK_COLLECTION,
    QUARANTINE_COLLECTION,
    ScanMetadata,
    build_instrument,
    ensure_indexes,
)

from ._rules import Write, datablock_guard, datablock_update, dataset_update, not_newer_than, ownership_conflict

logger = logging.getLogger(__name__)

_DUPLICATE_KEY = 11000
#: Reads and guarded writes of a datablock before it is written with the ordering guard alone.
_BLOCK_ATTEMPTS = 5
_MAX_BSON_SIZE = 16 * 1024 * 1024


class CatalogueWriter:
    """Writes datasets, their OrigDatablocks and the quarantine, with one write concern."""

    def __init__(self, db: Database[dict[str, Any]], write_concern: WriteConcern | None = None, *,
                 facility: str = "") -> None:
        wc = write_concern or WriteConcern(w=1)
        self.db = db
        self.facility = facility
        self.instruments = db.get_collection(INSTRUMENT_COLLECTION, write_concern=wc)
        #: Beamlines whose Instrument this process has seen in the store (one look per beamline).
        self._instruments_known: set[str] = set()
        self.datasets = db.get_collection(DATASET_COLLECTION, write_concern=wc)
        self.datablocks = db.get_collection(ORIG_DATABLOCK_COLLECTION, write_concern=wc)
        self.quarantine = db.get_collection(QUARANTINE_COLLECTION, write_concern=wc)

    def ensure_indexes(self) -> None:
        ensure_indexes(self.db)

    def write(self, writes: list[Write]) -> list[tuple[Write, str]]:
        """Write datasets and their OrigDatablocks; returns the writes the store refused, with why.

        Most messages are new scans, and a plain insert is several times cheaper than an
        upsert on the store; replays and end-of-scan updates hit a duplicate key and only
        they take the update path, guarded so that an older message changes nothing, and
        setting only what capture owns (:func:`dataset_update`): a published dataset stays
        published, and a message naming another proposal is refused, never applied.
        """
        self._ensure_instruments(writes)
        docs = [w.dataset.to_mongo() for w in writes]
        existing, refused = _insert_new(self.datasets, docs)
        if existing:
            stored = {d["_id"]: d for d in self.datasets.find({"_id": {"$in": [docs[i]["_id"] for i in existing]}},
                                                              {"proposalIds": 1})}
            updates = []
            for i in existing:
                conflict = ownership_conflict(stored.get(docs[i]["_id"], {}), docs[i])
                if conflict:
                    refused[i] = conflict
                    continue
                # The proposal is in the filter too: a move racing this write changes nothing.
                guard = not_newer_than(docs[i]["_id"], writes[i].message.produced_at) | {
                    "proposalIds": docs[i]["proposalIds"]}
                updates.append(UpdateOne(guard, dataset_update(docs[i])))
            if updates:
                self.datasets.bulk_write(updates, ordered=False)
        blocks = [w.datablock.to_mongo() for i, w in enumerate(writes) if i not in refused and w.datablock]
        if blocks:
            existing_blocks, _ = _insert_new(self.datablocks, blocks)
            if existing_blocks:
                self._update_blocks([blocks[i] for i in existing_blocks])
        return [(writes[i], f"catalogue refused the dataset: {why}") for i, why in refused.items()]

    def _update_blocks(self, blocks: list[dict[str, Any]]) -> None:
        """Update stored OrigDatablocks: as for datasets only the files change and an older
        message changes nothing, and a file that is still the same file keeps its checksum.

        Read, merge, compare-and-set (:func:`datablock_guard`): a block whose checksums changed
        between the read and the write (the fixity worker wrote one) is read and merged again.
        Usually one read and one bulk write per batch; a block the guard refused because a newer
        message is stored is left as it is.
        """
        pending = {b["_id"]: b for b in blocks}
        for attempt in range(_BLOCK_ATTEMPTS):
            stored = {d["_id"]: d for d in self.datablocks.find({"_id": {"$in": list(pending)}},
                                                                {"chkAlg": 1, "dataFileList": 1, "updatedAt": 1})}
            # A block stored from a newer message (or gone) is not this message's to change.
            pending = {i: b for i, b in pending.items()
                       if i in stored and not _newer(stored[i].get("updatedAt"), b["updatedAt"])}
            if not pending:
                return
            last = attempt == _BLOCK_ATTEMPTS - 1
            result = self.datablocks.bulk_write(
                [UpdateOne({"_id": i, "updatedAt": {"$lte": b["updatedAt"]}} if last else
                           datablock_guard(b, stored[i]), datablock_update(b, stored[i])) for i, b in pending.items()],
                ordered=False)
            if result.matched_count == len(pending):
                return
        # Refused every time (a worker writing checksums as fast as this reads): written with the
        # ordering guard only; a checksum written meanwhile is in the worker's ledger, and the
        # worker puts it back when this write's "ingested" event reaches it.
        logger.warning("datablocks %s changed under %d writes; written without keeping checksums written meanwhile",
                       ", ".join(sorted(pending)), _BLOCK_ATTEMPTS)

    def _ensure_instruments(self, writes: list[Write]) -> None:
        """Every beamline a dataset names has its Instrument (inserted if absent, never changed:
        a facility may rename it in SciCat), so SciCat's ``include=instruments`` finds it.
        One read per beamline per process; a write only for a beamline that has none."""
        new = {w.message.beamline: w.message.produced_at for w in writes if w.message.beamline
               not in self._instruments_known}
        if not new:
            return
        there = {d["_id"] for d in self.instruments.find({"_id": {"$in": sorted(new)}}, {"_id": 1})}
        for beamline in sorted(set(new) - there):
            doc = build_instrument(beamline, facility=self.facility, user="scicow", now=new[beamline]).to_mongo()
            try:
                self.instruments.update_one({"_id": beamline}, {"$setOnInsert": doc}, upsert=True)
            except DuplicateKeyError:
                # Two upserts of the same _id racing (another member, the same new beamline) also
                # end here: only an Instrument still absent by _id is one under another pid.
                if self.instruments.find_one({"_id": beamline}, {"_id": 1}) is None:
                    # Another Instrument has this uniqueName (made in SciCat by hand): keep it.
                    logger.warning("an Instrument named %r exists under another pid; datasets name %r", beamline,
                                   beamline)
        self._instruments_known |= set(new)

    def quarantine_message(self, message: ScanMetadata, reason: str, now: datetime) -> None:
        """Keep a message whose proposal is unknown, with the reason, until it can be ingested.

        A message older than the one already kept for the scan changes only the bookkeeping
        (the newer message stays, as the catalogue's ordering guard would have it).
        """
        entry = {"proposal_id": message.proposal_id, "beamline": message.beamline, "reason": reason,
                 "message": message.model_dump_json(), "produced_at": message.produced_at, "last_seen": now}
        newest = {"_id": message.message_id, "produced_at": {"$not": {"$gt": message.produced_at}}}
        change = {"$set": entry, "$setOnInsert": {"first_seen": now}, "$inc": {"attempts": 1}}
        try:
            self.quarantine.update_one(newest, change, upsert=True)
        except DuplicateKeyError:
            # The upsert met the _id: the kept message is newer, or another upsert of the same
            # message raced this one and inserted first. The same conditional update once more,
            # without upsert, tells them apart: it matches only in the race.
            if self.quarantine.update_one(newest, change).matched_count == 0:
                self.quarantine.update_one({"_id": message.message_id},
                                           {"$set": {"last_seen": now, "reason": reason}, "$inc": {"attempts": 1}})
        logger.warning("scan %s quarantined: %s", message.message_id, reason)

    def release(self, messages: list[ScanMetadata]) -> None:
        """Take messages out of quarantine (ingested, or set aside as dead letters).

        Compare and delete: an entry goes only if it holds this message or an older one of the
        scan, so a newer message quarantined meanwhile (a re-drive and a new capture racing)
        is kept for the next re-drive.
        """
        # Checking for an empty quarantine first saves a delete per batch in the usual case.
        if messages and self.quarantine.find_one({}, {"_id": 1}) is not None:
            self.quarantine.bulk_write([DeleteOne({"_id": m.message_id,
                                                   "produced_at": {"$not": {"$gt": m.produced_at}}})
                                        for m in messages], ordered=False)

    def forget(self, entry: QuarantineEntry) -> None:
        """Take one entry out of quarantine if it still holds exactly what was read."""
        self.quarantine.delete_one({"_id": entry.message_id, "message": entry.message})

    def quarantined_proposals(self) -> list[str]:
        """The proposals that quarantined messages wait for, each once."""
        return sorted({str(p) for p in self.quarantine.distinct("proposal_id")})

    def quarantined_messages(self, proposal_ids: list[str]) -> list[QuarantineEntry]:
        """Every quarantined message of these proposals, as stored (JSON text)."""
        return [QuarantineEntry(str(d["_id"]), str(d["message"]))
                for d in self.quarantine.find({"proposal_id": {"$in": proposal_ids}}, {"message": 1})]


@dataclass(frozen=True)
class QuarantineEntry:
    """A quarantined message as read: its id and the exact text kept."""

    message_id: str
    message: str


def _newer(stored: Any, time: datetime) -> bool:
    """Whether a stored ``updatedAt`` is newer than a message's (a naive one read is UTC)."""
    if not isinstance(stored, datetime):
        return False
    return (stored if stored.tzinfo else stored.replace(tzinfo=UTC)) > time


#: What the driver refuses before anything is sent: this document can never be stored
#: (an integer beyond 64 bits, a key with a NUL byte, over 16 MB). Permanent, per document.
_UNSTORABLE = (InvalidDocument, OverflowError, DocumentTooLarge)


def unstorable(docs: list[dict[str, Any]]) -> dict[int, str]:
    """The documents BSON cannot hold, by index, with why."""
    refused: dict[int, str] = {}
    for i, doc in enumerate(docs):
        try:
            encoded = bson.encode(doc)
        except _UNSTORABLE as err:
            refused[i] = f"{type(err).__name__}: {err}"
            continue
        if len(encoded) > _MAX_BSON_SIZE:
            refused[i] = f"the document is {len(encoded):,} bytes, over MongoDB's {_MAX_BSON_SIZE:,}"
    return refused


def _insert_new(collection: Collection[dict[str, Any]], docs: list[dict[str, Any]]) -> tuple[list[int], dict[int, str]]:
    """Insert what is new; return the indexes that already existed and those refused (with why)."""
    existing: list[int] = []
    refused: dict[int, str] = {}
    try:
        collection.insert_many(docs, ordered=False)
    except _UNSTORABLE:
        # Rare: find the documents that cannot be encoded, and insert the others.
        refused = unstorable(docs)
        index = [i for i in range(len(docs)) if i not in refused]
        if index:
            more_existing, more_refused = _insert_new(collection, [docs[i] for i in index])
            existing = [index[i] for i in more_existing]
            refused |= {index[i]: why for i, why in more_refused.items()}
    except BulkWriteError as err:
        if err.details.get("writeConcernErrors"):
            # Applied but not as durable as asked: never read as "already there" or done.
            raise
        for e in err.details.get("writeErrors", []):
            if e.get("code") == _DUPLICATE_KEY:
                existing.append(e["index"])
            else:
                refused[e["index"]] = e.get("errmsg", "")
    return existing, refused

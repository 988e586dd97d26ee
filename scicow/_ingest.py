"""scicow: Kafka -> validate -> proposal -> SciCat documents -> MongoDB -> commit.

Delivery: an offset is committed only after MongoDB acknowledged every write of the
batch and every dead letter was acknowledged by Kafka. Writes are upserts keyed by a pid
derived from the message id, so a redelivered batch changes nothing.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import OffsetAndMetadata, TopicPartition
from pydantic import ValidationError
from pymongo import UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, PyMongoError
from pymongo.write_concern import WriteConcern

from scizoo import (
    DATASET_COLLECTION,
    ORIG_DATABLOCK_COLLECTION,
    PROPOSAL_COLLECTION,
    CatalogueSettings,
    DatasetIngested,
    DeadLetter,
    ScanMetadata,
    build_dataset,
    build_orig_datablock,
    dead_letter_topic,
    events_topic,
    topic_pattern,
)

from ._proposals import ProposalLookup
from ._settings import ScicowSettings

logger = logging.getLogger(__name__)

QUARANTINE_COLLECTION = "quarantine"
#: What one poll returned: records per partition.
Polled = dict[TopicPartition, list[ConsumerRecord]]
_PRODUCED_AT = "scientificMetadata.message_produced_at.value"
_INSERT_ONLY = ("createdAt", "createdBy")


def _validation_reason(err: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}" for e in err.errors()[:5]]
    more = err.error_count() - 5
    return "invalid scan message: " + "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


@dataclass
class BatchResult:
    ingested: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    dead_letters: list[str] = field(default_factory=list)


class Ingestor:
    """Turns scan messages into catalogue documents. Knows nothing of consumer groups."""

    def __init__(
        self,
        db: Database,
        producer: KafkaProducer,
        proposals: ProposalLookup,
        catalogue: CatalogueSettings,
        topic_prefix: str,
        *,
        write_concern: WriteConcern | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        wc = write_concern or WriteConcern(w=1)
        self.datasets = db.get_collection(DATASET_COLLECTION, write_concern=wc)
        self.datablocks = db.get_collection(ORIG_DATABLOCK_COLLECTION, write_concern=wc)
        self.quarantine = db.get_collection(QUARANTINE_COLLECTION, write_concern=wc)
        self._producer = producer
        self._proposals = proposals
        self._catalogue = catalogue
        self._dlq = dead_letter_topic(topic_prefix)
        self._events = events_topic(topic_prefix)
        self._clock = clock

    def ensure_indexes(self) -> None:
        """Indexes for what scicow and the scan table ask of the catalogue."""
        self.datasets.create_index([("proposalIds", 1), ("creationTime", -1)])
        self.datasets.create_index([("ownerGroup", 1), ("creationTime", -1)])
        self.datasets.create_index([("creationTime", -1)])
        self.datablocks.create_index("datasetId")
        self.quarantine.create_index("proposal_id")

    # -- one batch -----------------------------------------------------------------------

    def handle(self, records: Iterable[ConsumerRecord]) -> BatchResult:
        """Handle a batch of Kafka records; returns once everything is durable.

        Raises PyMongoError / KafkaError when the store or the broker is unreachable:
        the caller must then not commit, and re-reads the batch.
        """
        result = BatchResult()
        dead: list[DeadLetter] = []
        messages: dict[str, ScanMetadata] = {}
        for rec in records:
            try:
                message = ScanMetadata.model_validate_json(rec.value)
            except ValidationError as err:
                dead.append(self._dead_letter(rec, _validation_reason(err)))
                continue
            # The last message of a scan in the batch wins (same key -> same partition -> in order).
            messages[message.message_id] = message
        failed = self._ingest(list(messages.values()), result)
        for message, reason in failed:
            dead.append(self._dead_letter_for(message, reason))
        self._send_dead_letters(dead, result)
        self._producer.flush()
        return result

    def _ingest(self, messages: list[ScanMetadata], result: BatchResult) -> list[tuple[ScanMetadata, str]]:
        known: list[tuple[ScanMetadata, dict[str, Any]]] = []
        for message in messages:
            answer = self._proposals.get(message.proposal_id)
            if answer.proposal is None:
                self._quarantine(message, answer.reason)
                result.quarantined.append(message.message_id)
                continue
            known.append((message, build_dataset(message, answer.proposal, self._catalogue)))
        if not known:
            return []
        failed = self._write(known)
        failed_ids = {m.message_id for m, _ in failed}
        done = [(m, d) for m, d in known if m.message_id not in failed_ids]
        # Checking for an empty quarantine first saves a delete per batch in the usual case.
        if done and self.quarantine.find_one({}, {"_id": 1}) is not None:
            self.quarantine.delete_many({"_id": {"$in": [m.message_id for m, _ in done]}})
        now = self._clock()
        for message, doc in done:
            event = DatasetIngested(
                pid=doc["pid"],
                message_id=message.message_id,
                beamline=message.beamline,
                proposal_id=message.proposal_id,
                status=message.scan.status,
                ingested_at=now,
            )
            self._producer.send(self._events, key=doc["pid"].encode(), value=event.model_dump_json().encode())
            result.ingested.append(doc["pid"])
        return failed

    def _write(self, items: list[tuple[ScanMetadata, dict[str, Any]]]) -> list[tuple[ScanMetadata, str]]:
        """Write datasets and their OrigDatablocks.

        Most messages are new scans, and a plain insert is several times cheaper than an
        upsert on the store; replays and end-of-scan updates hit a duplicate key and only
        they take the update path, which leaves ``createdAt``/``createdBy`` as first written.
        """
        existing, refused = _insert_new(self.datasets, [doc for _, doc in items])
        if existing:
            self.datasets.bulk_write(
                [
                    UpdateOne(
                        # An older message (a "running" replayed after "finished") must not
                        # overwrite a newer one: update only what is not newer than it.
                        {"_id": items[i][1]["_id"], "$or": [{_PRODUCED_AT: {"$exists": False}},
                                                          {_PRODUCED_AT: {"$lte": items[i][0].produced_at}}]},
                        {"$set": {k: v for k, v in items[i][1].items() if k not in _INSERT_ONLY and k != "_id"}},
                    )
                    for i in existing
                ],
                ordered=False,
            )
        failed = [(items[i][0], f"catalogue refused the dataset: {why}") for i, why in refused.items()]
        blocks = [
            block
            for i, (message, doc) in enumerate(items)
            if i not in refused and (block := build_orig_datablock(message, doc)) is not None
        ]
        if blocks:
            existing_blocks, _ = _insert_new(self.datablocks, blocks)
            if existing_blocks:
                # As for datasets: first-written fields stay, and an older message changes nothing.
                self.datablocks.bulk_write(
                    [
                        UpdateOne(
                            {"_id": blocks[i]["_id"], "updatedAt": {"$lte": blocks[i]["updatedAt"]}},
                            {"$set": {k: v for k, v in blocks[i].items() if k not in _INSERT_ONLY and k != "_id"}},
                        )
                        for i in existing_blocks
                    ],
                    ordered=False,
                )
        return failed

    def _quarantine(self, message: ScanMetadata, reason: str) -> None:
        now = self._clock()
        self.quarantine.update_one(
            {"_id": message.message_id},
            {
                "$set": {
                    "proposal_id": message.proposal_id,
                    "beamline": message.beamline,
                    "reason": reason,
                    "message": message.model_dump_json(),
                    "last_seen": now,
                },
                "$setOnInsert": {"first_seen": now},
                "$inc": {"attempts": 1},
            },
            upsert=True,
        )
        logger.warning("scan %s quarantined: %s", message.message_id, reason)

    # -- dead letters --------------------------------------------------------------------

    def _dead_letter(self, rec: ConsumerRecord, reason: str) -> DeadLetter:
        return DeadLetter(
            reason=reason,
            topic=rec.topic,
            partition=rec.partition,
            offset=rec.offset,
            key=rec.key.decode("utf-8", "replace") if rec.key else None,
            original_b64=base64.b64encode(rec.value or b"").decode(),
            failed_at=self._clock(),
        )

    def _dead_letter_for(self, message: ScanMetadata, reason: str) -> DeadLetter:
        return DeadLetter(
            reason=reason,
            topic="",
            partition=-1,
            offset=-1,
            key=message.message_id,
            original_b64=base64.b64encode(message.model_dump_json().encode()).decode(),
            failed_at=self._clock(),
        )

    def _send_dead_letters(self, dead: list[DeadLetter], result: BatchResult) -> None:
        futures = []
        for letter in dead:
            logger.warning("dead letter from %s@%s: %s", letter.topic, letter.offset, letter.reason)
            futures.append(self._producer.send(self._dlq, key=None, value=letter.model_dump_json().encode()))
            result.dead_letters.append(letter.reason)
        for future in futures:
            future.get(timeout=30)

    # -- quarantine ----------------------------------------------------------------------

    def redrive_quarantine(self) -> BatchResult:
        """Retry every quarantined scan whose proposal is now known."""
        result = BatchResult()
        ready: list[ScanMetadata] = []
        for doc in self.quarantine.find({}, {"message": 1, "proposal_id": 1}):
            if self._proposals.get(doc["proposal_id"], fresh=True).proposal is None:
                continue
            ready.append(ScanMetadata.model_validate_json(doc["message"]))
        if ready:
            failed = self._ingest(ready, result)
            dead = [self._dead_letter_for(m, r) for m, r in failed]
            self._send_dead_letters(dead, result)
            if failed:
                self.quarantine.delete_many({"_id": {"$in": [m.message_id for m, _ in failed]}})
            self._producer.flush()
        return result


def _insert_new(collection: Collection, docs: list[dict[str, Any]]) -> tuple[list[int], dict[int, str]]:
    """Insert what is new; return the indexes that already existed and those refused (with why)."""
    existing: list[int] = []
    refused: dict[int, str] = {}
    try:
        collection.insert_many(docs, ordered=False)
    except BulkWriteError as err:
        for e in err.details.get("writeErrors", []):
            if e.get("code") == 11000:
                existing.append(e["index"])
            else:
                refused[e["index"]] = e.get("errmsg", "")
    return existing, refused


def make_ingestor(settings: ScicowSettings, db: Database, producer: KafkaProducer) -> Ingestor:
    token = settings.user_office_token.get_secret_value() if settings.user_office_token else None
    proposals = ProposalLookup(
        db[PROPOSAL_COLLECTION],
        settings.user_office_url,
        token,
        ttl_s=settings.proposal_cache_ttl_s,
        miss_ttl_s=settings.proposal_miss_ttl_s,
    )
    return Ingestor(
        db,
        producer,
        proposals,
        settings.catalogue(),
        settings.topic_prefix,
        write_concern=WriteConcern(w=settings.write_concern_w),
    )


def run(
    settings: ScicowSettings,
    stop: threading.Event,
    *,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> None:
    """Consume every beamline topic until ``stop`` is set."""
    from pymongo import MongoClient

    client: MongoClient = MongoClient(settings.mongo_uri.get_secret_value(), tz_aware=True)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.batch_max,
        max_poll_interval_ms=settings.max_poll_interval_ms,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        # New beamline topics are found by the pattern subscription within this time.
        metadata_max_age_ms=5000,
    )
    consumer.subscribe(pattern=topic_pattern(settings.topic_prefix))
    ingestor = make_ingestor(settings, client[settings.database], producer)
    ingestor.ensure_indexes()
    next_redrive = time.monotonic() + settings.quarantine_retry_s
    watch = AssignmentWatch(grace_s=2 * settings.max_poll_interval_ms / 1000 + 5)
    logger.info("scicow consuming %s as group %s", topic_pattern(settings.topic_prefix), settings.group_id)
    # One batch is written while the next is fetched (measured: fetching and decoding 500
    # records took about as long as writing them). A single writer thread keeps batches in
    # order; offsets are committed from this thread once their batch is durable.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scicow-writer")
    in_flight: tuple[Future[BatchResult], Polled] | None = None

    def settle(next_polled: Polled) -> bool:
        """Wait for the batch in flight; commit it, or rewind it (and what came after). True if it failed."""
        nonlocal in_flight
        if in_flight is None:
            return False
        future, batch = in_flight
        in_flight = None
        try:
            result = future.result()
        except Exception as err:  # noqa: BLE001 - store or broker down: re-read the batch later
            logger.error("batch of %d not ingested, will retry: %s", sum(map(len, batch.values())), err)
            _rewind(consumer, batch, next_polled)
            return True
        consumer.commit({tp: OffsetAndMetadata(recs[-1].offset + 1, "", -1) for tp, recs in batch.items() if recs})
        if on_batch:
            on_batch(result)
        return False

    try:
        while not stop.is_set():
            polled = consumer.poll(timeout_ms=settings.poll_timeout_ms)
            if settle(polled):
                stop.wait(1.0)
                continue
            if watch.stuck(consumer.subscription(), consumer.assignment()):
                logger.warning(
                    "subscribed to %s but assigned nothing for %.0f s: re-joining the group",
                    sorted(consumer.subscription()),
                    watch.grace_s,
                )
                _rewind(consumer, polled)
                consumer.unsubscribe()
                consumer.subscribe(pattern=topic_pattern(settings.topic_prefix))
                continue
            batch = {tp: recs for tp, recs in polled.items() if recs}
            if batch:
                records = [rec for recs in batch.values() for rec in recs]
                in_flight = (writer.submit(ingestor.handle, records), batch)
            if time.monotonic() >= next_redrive:
                next_redrive = time.monotonic() + settings.quarantine_retry_s
                try:  # in the writer thread too, after the batch in flight
                    redriven = writer.submit(ingestor.redrive_quarantine).result()
                except PyMongoError as err:
                    logger.error("quarantine retry failed: %s", err)
                else:
                    if redriven.ingested and on_batch:
                        on_batch(redriven)
        settle({})
    finally:
        writer.shutdown(wait=True)
        consumer.close()
        producer.close(timeout=5)
        client.close()


class AssignmentWatch:
    """Notices a group member that is subscribed to topics but never gets a partition.

    kafka-python 3.0.12 can finish a rebalance without applying its assignment: when a
    poll times out while a JoinGroup is in flight and the join was caused by a changed
    subscription (a new beamline topic matching the pattern), the finished join is never
    picked up and the consumer fetches nothing, forever. Seen in 6 of 8 tries against
    tansu. Re-subscribing starts a clean join. A member of a group with more members than
    partitions also gets nothing, so the grace period is long and the re-join is logged.
    """

    def __init__(self, grace_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.grace_s = grace_s
        self._clock = clock
        self._since: float | None = None

    def stuck(self, subscription: set[str] | None, assignment: set[TopicPartition]) -> bool:
        if not subscription or assignment:
            self._since = None
            return False
        now = self._clock()
        if self._since is None:
            self._since = now
            return False
        if now - self._since < self.grace_s:
            return False
        self._since = None
        return True


def _rewind(consumer: KafkaConsumer, *batches: Polled) -> None:
    """Seek each partition back to the first offset any of the batches held for it."""
    first: dict[TopicPartition, int] = {}
    for batch in batches:
        for tp, recs in batch.items():
            if recs:
                first[tp] = min(first.get(tp, recs[0].offset), recs[0].offset)
    for tp, offset in first.items():
        consumer.seek(tp, offset)

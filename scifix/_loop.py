"""The fixity worker's loop: its own consumer group on the "dataset ingested" events.

For each finished dataset, :meth:`~scifix._fixity.Fixity.check` gives every file its checksum;
the event's offset is committed only after that pass is written, so a worker killed mid-dataset
leaves the event to whoever owns its partition next, which finds the finished files in the
ledger and reads only the rest. Between events, published datasets due for re-verification are
read again, one per turn of the loop.

A file of 100 GB at a bounded rate takes minutes: while it is read, the worker pauses its
partitions and polls now and then (``keepalive_s``), so the group does not evict it for
missing ``max_poll_interval_ms``; anything such a poll returns (a partition assigned to it
meanwhile) is put back by seeking to it, never skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from kafka import KafkaConsumer
from kafka.errors import KafkaError
from pymongo import MongoClient
from pymongo.errors import ConnectionFailure, ExecutionTimeout, WriteConcernError

from scizoo.core import DatasetIngested, DependencyUnavailable, ensure_indexes, events_topic
from scizoo.ops import HealthServer, Readiness, broker_problem, first_problem
from scizoo.ops.kafka_records import COMMIT_TIMEOUT_MS, nudged, poll_reading_past, require_codecs
from scizoo.ops.store import ping_store, store_problem

from ._fixity import Fixity
from ._hashing import Interrupted
from ._settings import ScifixSettings

logger = logging.getLogger(__name__)
Doc = dict[str, Any]

#: What a dataset's check lets through: a stop mid-file, and the store away or too slow (pymongo's;
#: ServerSelectionTimeoutError and AutoReconnect are ConnectionFailures), transient, so the event
#: is not committed and comes again.
_PROPAGATE: tuple[type[Exception], ...] = (Interrupted, ConnectionFailure, ExecutionTimeout, WriteConcernError)

#: Scan statuses whose files are still being written: their finished event comes later.
_STILL_WRITING = frozenset({"running"})


class _KeepAlive:
    """Polls a paused consumer at most every ``every_s`` while a file is read."""

    def __init__(self, consumer: KafkaConsumer, every_s: float) -> None:
        self.consumer, self.every_s = consumer, every_s
        self._at = time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self._at < self.every_s:
            return
        self._at = time.monotonic()
        self.consumer.pause(*self.consumer.assignment())
        got = self.consumer.poll(timeout_ms=0)
        # A partition assigned during this poll is not paused: put its records back.
        for partition, records in got.items():
            if records:
                self.consumer.seek(partition, records[0].offset)
        self.consumer.pause(*self.consumer.assignment())

    def done(self) -> None:
        self.consumer.resume(*self.consumer.paused())
        self._at = time.monotonic()


def run_worker(settings: ScifixSettings, stop: threading.Event) -> None:
    """Consume "dataset ingested" events until ``stop`` is set.

    Raises :class:`~scizoo.core.DependencyUnavailable` at once when a codec's library is missing,
    or the store or the broker does not answer at start (one sentence, not a traceback).
    """
    require_codecs("scifix", "fixity")
    ping_store(settings.mongo_uri.get_secret_value(), settings.connect_timeout_s, service="scifix",
               setting="SCIFIX_MONGO_URI")
    # Both dependencies answer before anything is written or started (one sentence if not).
    try:
        consumer = KafkaConsumer(
            events_topic(settings.topic_prefix), bootstrap_servers=settings.kafka_bootstrap,
            **settings.kafka_security(), group_id=settings.group_id, enable_auto_commit=False,
            auto_offset_reset="earliest",
            # One event per poll: a dataset's files take long, and each is committed on its own.
            max_poll_records=1,
            max_poll_interval_ms=settings.max_poll_interval_ms, session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
            bootstrap_timeout_ms=int(settings.connect_timeout_s * 1000))
    except KafkaError as err:
        raise DependencyUnavailable(
            service="scifix", dependency="Kafka", address=settings.kafka_bootstrap,
            reason=f"no broker answered ({type(err).__name__})",
            hint="Check SCIFIX_KAFKA_BOOTSTRAP and that the broker is running and reachable.") from None
    client: MongoClient[Doc] = MongoClient(settings.mongo_uri.get_secret_value(), tz_aware=True)
    health = None
    try:
        db = client[settings.database]
        ensure_indexes(db)
        fixity = Fixity(db, settings, stop=stop)
        fixity.ensure_indexes()
        if not settings.data_roots:
            logger.warning("no data roots configured (SCIFIX_DATA_ROOTS): every file is flagged, none is read")
        if settings.health_port is not None:
            problem = first_problem(store_problem(settings.mongo_uri.get_secret_value(), service="scifix",
                                                  setting="SCIFIX_MONGO_URI"),
                                    broker_problem(settings.kafka_bootstrap))
            health = HealthServer(settings.health_port, Readiness(problem)).start()
        with nudged(consumer):  # as scicow's: a lost wake-up of its network thread held a poll
            _consume(settings, stop, consumer, fixity)
    finally:
        if health is not None:
            health.stop()
        consumer.close()
        client.close()


def _consume(settings: ScifixSettings, stop: threading.Event, consumer: KafkaConsumer, fixity: Fixity) -> None:
    keepalive = _KeepAlive(consumer, settings.keepalive_s)
    due: deque[str] = deque()
    next_due = time.monotonic()
    while not stop.is_set():
        polled = poll_reading_past(consumer, settings.poll_timeout_ms, logger)
        try:
            for records in polled.values():
                for record in records:
                    _handle(fixity, record, keepalive)
            if not polled:
                if not due and time.monotonic() >= next_due:
                    due.extend(fixity.due())
                    next_due = time.monotonic() + settings.reverify_check_s
                if due:
                    _check(fixity, due.popleft(), recheck=True, keepalive=keepalive)
        except Interrupted:
            logger.info("stopped in the middle of a file; the next pass reads it again")
            break
        finally:
            keepalive.done()
        if polled:
            try:
                consumer.commit(timeout_ms=COMMIT_TIMEOUT_MS)
            except KafkaError as err:
                # Evicted or re-balancing: the event comes again to whoever owns it now, who
                # finds the finished files in the ledger.
                logger.warning("event offset not committed (%s: %s); it will be read again",
                               type(err).__name__, err)


def _handle(fixity: Fixity, record: Any, keepalive: _KeepAlive) -> None:
    try:
        event = DatasetIngested.model_validate_json(record.value)
    except ValueError as err:
        logger.error("not a 'dataset ingested' event at %s@%d: %s", record.topic, record.offset, err)
        return
    if event.status in _STILL_WRITING:
        logger.debug("dataset %s is still being written: its files are checked when it ends", event.pid)
        return
    _check(fixity, event.pid, recheck=False, keepalive=keepalive)


def _check(fixity: Fixity, pid: str, *, recheck: bool, keepalive: _KeepAlive) -> None:
    """One dataset's pass, whatever its data holds: an unexpected error is logged and put on the
    dataset's summary, and the event is committed, as retrying it would fail the same way and
    stall every event behind it on its partition. Two exceptions propagate: a stop mid-file, and
    the store away (transient: the event must come again, so it is not committed)."""
    try:
        fixity.check(pid, recheck=recheck, keepalive=keepalive)
    except _PROPAGATE:
        raise
    except Exception as err:  # any other error is this dataset's: said on it
        logger.exception("fixity check of %s failed; the dataset is flagged and the worker goes on", pid)
        fixity.failed(pid, err)

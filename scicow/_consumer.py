"""The consumer loop: poll every beamline topic, ingest in a writer thread, commit when durable."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata
from pymongo import MongoClient

from scizoo.core import DependencyUnavailable, beamline_topic, dead_letter_topic, events_topic, topic_pattern
from scizoo.ops import (
    BATCH_WRITE,
    CONSUMER_LAG,
    DEAD_LETTERS,
    MESSAGES_CONSUMED,
    MESSAGES_INGESTED,
    QUARANTINED,
    HealthServer,
    Readiness,
    broker_problem,
    first_problem,
)
from scizoo.ops.kafka_records import (
    COMMIT_TIMEOUT_MS,
    Undecodable,
    codecs_unavailable,
    missing_library,
    nudged,
    require_codecs,
    undecodable,
)
from scizoo.ops.store import ping_store, store_problem

from ._assignment import AssignmentWatch, Polled, rewind
from ._errors import is_transient
from ._ingest import BatchResult, Ingestor, make_ingestor
from ._rules import RawRecord, record_dead_letter
from ._settings import ScicowSettings

logger = logging.getLogger(__name__)


def open_store(settings: ScicowSettings, service: str = "scicow") -> MongoClient[dict[str, Any]]:
    """A client of the catalogue's MongoDB that has answered a ping, or :class:`DependencyUnavailable`."""
    uri = settings.mongo_uri.get_secret_value()
    ping_store(uri, settings.connect_timeout_s, service=service, setting="SCICOW_MONGO_URI")
    # The probe's short timeout is for the start only; the running client keeps the URI's own.
    return MongoClient(uri, tz_aware=True)


def open_producer(settings: ScicowSettings, service: str = "scicow") -> KafkaProducer:
    """A producer connected to the broker, or :class:`DependencyUnavailable`."""
    try:
        return KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, **settings.kafka_security(),
                             acks="all", linger_ms=5, bootstrap_timeout_ms=int(settings.connect_timeout_s * 1000))
    except KafkaError as err:
        raise DependencyUnavailable(
            service=service, dependency="Kafka", address=settings.kafka_bootstrap,
            reason=f"no broker answered ({type(err).__name__})",
            hint="Check SCICOW_KAFKA_BOOTSTRAP and that the broker is running and reachable.",
        ) from err


def ensure_topics(settings: ScicowSettings, service: str = "scicow") -> None:
    """Create the dead-letter and events topics, and the listed beamlines' topics, if missing.

    Without the first two every dead letter or event would wait for a topic that never comes,
    and ingestion would stall; so a start that can neither find nor create them fails clearly.
    Beamline topics made here get the settings' partitions (scicow's scale-out limit), where
    a producer's auto-creation would give the broker's default.
    """
    wanted = [dead_letter_topic(settings.topic_prefix), events_topic(settings.topic_prefix),
              *(beamline_topic(settings.topic_prefix, b) for b in settings.beamlines)]
    try:
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **settings.kafka_security(),
                                 request_timeout_ms=int(settings.connect_timeout_s * 1000))
    except KafkaError as err:
        raise DependencyUnavailable(service=service, dependency="Kafka", address=settings.kafka_bootstrap,
                                    reason=f"no broker answered ({type(err).__name__})",
                                    hint="Check SCICOW_KAFKA_BOOTSTRAP.") from err
    try:
        missing = [t for t in wanted if t not in set(admin.list_topics())]
        if missing:
            try:
                # Names mapped to their options: kafka-python 3.0 deprecates NewTopic objects.
                admin.create_topics({t: {"num_partitions": settings.topic_partitions,
                                         "replication_factor": settings.topic_replication} for t in missing})
            except TopicAlreadyExistsError:
                pass  # another member made them first
            except KafkaError as err:
                raise DependencyUnavailable(
                    service=service, dependency="Kafka", address=settings.kafka_bootstrap,
                    reason=f"topics {', '.join(missing)} are missing and could not be created ({type(err).__name__})",
                    hint="Create them, or let scicow's principal create topics.") from err
            logger.info("created topics %s", ", ".join(missing))
    finally:
        admin.close()


def _wait_for_a_beamline_topic(consumer: KafkaConsumer, settings: ScicowSettings, stop: threading.Event) -> None:
    """Join the group only once some beamline topic exists.

    A member that joins with a pattern matching nothing must re-join when the first topic
    appears, and that re-join is where kafka-python 3.0.12 loses the assignment (see
    :class:`AssignmentWatch`): measured, the first scan of a fresh installation waited 19 s.
    Joining with the topic already known costs one join.
    """
    pattern = re.compile(topic_pattern(settings.topic_prefix))
    while not stop.is_set():
        if any(pattern.match(t) for t in consumer.topics()):
            return
        stop.wait(0.5)


def _consumer(settings: ScicowSettings) -> KafkaConsumer:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        **settings.kafka_security(),
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
    return consumer


def _timed(handle: Callable[[list[RawRecord]], BatchResult], records: list[RawRecord]) -> BatchResult:
    with BATCH_WRITE.time():
        return handle(records)


def _raw(batch: Polled) -> list[RawRecord]:
    return [RawRecord(r.topic, r.partition, r.offset, r.key, r.value) for recs in batch.values() for r in recs]


def redrive(settings: ScicowSettings) -> BatchResult:
    """Retry every quarantined scan whose proposal is now known (``scicow redrive``)."""
    client = open_store(settings)
    try:
        producer = open_producer(settings)
        try:
            return make_ingestor(settings, client[settings.database], producer).redrive_quarantine()
        finally:
            producer.close(timeout=5)
    finally:
        client.close()


def run(
    settings: ScicowSettings,
    stop: threading.Event,
    *,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> None:
    """Consume every beamline topic until ``stop`` is set.

    Raises :class:`DependencyUnavailable` when the store or the broker cannot be reached at start,
    or a codec's library is missing (its records would be lost to the dead letters otherwise).
    """
    require_codecs("scicow", "scicow")
    client = open_store(settings)
    try:
        producer = open_producer(settings)
    except DependencyUnavailable:
        client.close()
        raise
    try:
        ensure_topics(settings)
    except DependencyUnavailable:
        producer.close(timeout=1)
        client.close()
        raise
    consumer = _consumer(settings)
    # A producer that fails is replaced (it can stay wedged after a broker restart).
    ingestor = make_ingestor(settings, client[settings.database], producer, reopen=lambda: open_producer(settings))
    health = _health(settings)
    try:
        ingestor.ensure_indexes()
        _wait_for_a_beamline_topic(consumer, settings, stop)
        consumer.subscribe(pattern=topic_pattern(settings.topic_prefix))
        logger.info("scicow consuming %s as group %s", topic_pattern(settings.topic_prefix), settings.group_id)
        _Loop(settings, consumer, ingestor, on_batch).run(stop)
    finally:
        if health is not None:
            health.stop()
        consumer.close()
        ingestor.outbox.close(timeout_s=5)
        client.close()


def _health(settings: ScicowSettings) -> HealthServer | None:
    """/healthz, /readyz (the store and the broker answer) and /metrics, when a port is set."""
    if settings.health_port is None:
        return None
    problem = first_problem(
        store_problem(settings.mongo_uri.get_secret_value(), service="scicow", setting="SCICOW_MONGO_URI"),
        broker_problem(settings.kafka_bootstrap))
    server = HealthServer(settings.health_port, Readiness(problem)).start()
    logger.info("health and metrics on port %d", server.port)
    return server


class _Loop:
    """Polls, hands each batch to one writer thread, commits a batch once it is durable.

    One batch is written while the next is fetched (measured: fetching and decoding 500
    records took about as long as writing them). A single writer thread keeps batches in
    order; offsets are committed from the polling thread once their batch is durable.
    """

    def __init__(self, settings: ScicowSettings, consumer: KafkaConsumer, ingestor: Ingestor,
                 on_batch: Callable[[BatchResult], None] | None) -> None:
        self.settings = settings
        self.consumer = consumer
        self.ingestor = ingestor
        self.on_batch = on_batch
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scicow-writer")
        # The quarantine re-drive has a thread of its own: a slow user office must never hold
        # up a batch, and through it the polling that keeps this member in its group.
        self.redriver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scicow-redrive")
        self.redriving: Future[BatchResult] | None = None
        self.in_flight: tuple[Future[BatchResult], Polled] | None = None
        #: A batch that failed for a reason other than a service being away is re-read and
        #: handled record by record (poison isolation).
        self.isolate_next = False
        # A join waits up to the rebalance timeout (max_poll_interval) for the group's members:
        # give a join that long, and a little more, before calling it lost.
        join_s = settings.max_poll_interval_ms / 1000
        self.watch = AssignmentWatch(grace_s=2 * join_s + 5, settle_s=join_s + 3)
        self.next_redrive = time.monotonic() + settings.quarantine_retry_s
        #: Records per poll: halved when the group refused a commit (a batch slower than
        #: max_poll_interval gets its member evicted, and the same batch would come back, be
        #: too slow again, for ever), grown back a quarter at a time once commits succeed.
        self.max_records = settings.batch_max
        self.next_lag = 0.0
        #: The partitions whose lag this loop reports: a partition it no longer holds (or all,
        #: once it stops) is taken off /metrics, not left at its last value for ever.
        self.lag_reported: set[tuple[str, str]] = set()

    def run(self, stop: threading.Event) -> None:
        # The network thread is woken every second (kafka_records.nudged): a lost wake-up after a
        # broker restart held a poll for two minutes.
        with nudged(self.consumer):
            self._run(stop)

    def _run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    polled = self.consumer.poll(timeout_ms=self.settings.poll_timeout_ms, max_records=self.max_records)
                except Exception as err:  # a batch that cannot be decoded raises its codec's own error
                    bad = undecodable(err)
                    if bad is not None:
                        self.set_aside(bad, stop)
                        continue
                    lacking = missing_library(err)
                    if lacking is not None:
                        # Sound records this process cannot read (checked at start, so a library
                        # gone since): end, commit nothing, and read them again once it is back.
                        raise codecs_unavailable("scicow", "scicow", [lacking]) from err
                    if not (isinstance(err, KafkaError) and is_transient(err)):
                        raise  # e.g. not authorised: a person must act, and scicow says so by ending
                    # Seen once right after a broker was killed (a metadata refresh refused).
                    logger.warning("polling Kafka failed (%s: %s); trying again in 1 s", type(err).__name__, err)
                    stop.wait(1.0)
                    continue
                if self.settle(polled):
                    stop.wait(1.0)
                    continue
                if self.rejoin_if_stuck(polled):
                    continue
                batch = {tp: recs for tp, recs in polled.items() if recs}
                if batch:
                    handle = self.ingestor.handle_one_by_one if self.isolate_next else self.ingestor.handle
                    self.isolate_next = False
                    self.in_flight = (self.writer.submit(_timed, handle, _raw(batch)), batch)
                self.measure_lag()
                self.redrive_if_due()
            self.settle({})
        finally:
            self.writer.shutdown(wait=True)
            self.redriver.shutdown(wait=True)
            self.forget_lag(set())

    def settle(self, next_polled: Polled) -> bool:
        """Wait for the batch in flight; commit it, or rewind it (and what came after). True if it failed."""
        if self.in_flight is None:
            return False
        future, batch = self.in_flight
        self.in_flight = None
        try:
            result = future.result()
        except Exception as err:  # noqa: BLE001 - every failure re-reads the batch; how depends on why
            size = sum(map(len, batch.values()))
            if is_transient(err):
                logger.error("batch of %d not ingested, will retry when the service is back: %s", size, err)
            else:
                # Not a service away: some record in it is the problem. Re-read it and take
                # the records one by one, so the bad one is set aside and the rest go on.
                logger.error("batch of %d failed (%s: %s): handling its records one by one", size,
                             type(err).__name__, err)
                self.isolate_next = True
            rewind(self.consumer, batch, next_polled)
            return True
        self.commit(batch)
        MESSAGES_CONSUMED.inc(sum(map(len, batch.values())))
        MESSAGES_INGESTED.inc(len(result.ingested))
        DEAD_LETTERS.inc(len(result.dead_letters))
        QUARANTINED.inc(len(result.quarantined))
        if self.on_batch:
            self.on_batch(result)
        return False

    def set_aside(self, bad: Undecodable, stop: threading.Event) -> None:
        """Dead-letter a batch that cannot be decoded, commit past it and read on after it.

        Only a batch that no process could decode (a corrupt payload, a codec Kafka does not
        define) comes here; one whose codec's library is missing here never does (see
        :func:`~scizoo.ops.kafka_records.undecodable`). Its partition must move on: asked again
        at the same position, kafka-python 3.0.12 keeps the failed batch and loops inside
        ``poll()`` for ever (measured). The batch in flight is settled first, so nothing before
        the bad batch is committed unwritten; the dead letter is sent from the writer thread (as
        a batch's are; the quarantine re-drive shares the producer too, see :class:`~scicow._outbox.Outbox`) and
        retried while the broker is away; only once Kafka has it is the offset after the batch
        committed.
        """
        in_flight = self.in_flight[1] if self.in_flight is not None else {}
        if self.settle({}) and in_flight.get(bad.partition):
            return  # rewound to before the bad batch: it comes again after its partition's earlier records
        tp = bad.partition
        letter = record_dead_letter(RawRecord(tp.topic, tp.partition, bad.first, None, None), bad.reason,
                                    datetime.now(UTC))
        outgoing = [(dead_letter_topic(self.settings.topic_prefix), None, letter.model_dump_json().encode())]
        while True:
            try:
                self.writer.submit(self.ingestor.outbox.send, outgoing).result()
                break
            except Exception as err:  # transient ones are retried, others end scicow
                if not is_transient(err):
                    raise
                logger.error("dead letter for %s[%d]@%d not sent, retrying: %s", tp.topic, tp.partition, bad.first, err)
                if stop.wait(1.0):
                    return  # neither committed nor moved: read again at the next start
        logger.error("dead letter: %s", bad.reason)
        DEAD_LETTERS.inc()
        try:
            self.consumer.commit({tp: OffsetAndMetadata(bad.after, "", -1)}, timeout_ms=COMMIT_TIMEOUT_MS)
        except KafkaError as err:
            # As for a batch (see commit): read again by whoever owns the partition, dead-lettered again.
            logger.warning("offset past the batch that cannot be decoded not committed (%s: %s)", type(err).__name__, err)
        if tp in self.consumer.assignment():
            self.consumer.seek(tp, bad.after)
        if self.on_batch:
            self.on_batch(BatchResult(dead_letters=[bad.reason]))

    def commit(self, batch: Polled) -> None:
        """Commit a durable batch; a commit the group refuses is logged, never the end of scicow.

        It is refused when this member was evicted or the group is re-balancing (a slow batch,
        a store outage). The records are in the store already; whoever owns their partitions
        now reads them again, and the writes are idempotent, so nothing is lost or doubled.
        """
        offsets = {tp: OffsetAndMetadata(recs[-1].offset + 1, "", -1) for tp, recs in batch.items() if recs}
        size = sum(map(len, batch.values()))
        try:
            self.consumer.commit(offsets, timeout_ms=COMMIT_TIMEOUT_MS)
        except KafkaError as err:
            self.max_records = max(1, min(self.max_records, size) // 2)
            logger.warning("offsets of a written batch of %d not committed (%s: %s); its records will be "
                           "read again, and writing them again changes nothing; batches of at most %d from now",
                           size, type(err).__name__, err, self.max_records)
            return
        if self.max_records < self.settings.batch_max:
            self.max_records = min(self.settings.batch_max, self.max_records + max(1, self.max_records // 4))

    def measure_lag(self) -> None:
        """Records behind each assigned partition's end, as the last fetch saw it."""
        now = time.monotonic()
        if now < self.next_lag:
            return
        self.next_lag = now + 5.0
        assigned = self.consumer.assignment()
        self.forget_lag({(tp.topic, str(tp.partition)) for tp in assigned})
        for tp in assigned:
            end = self.consumer.highwater(tp)
            # Never waits: kafka-python's position() waits without end by default for a partition
            # whose offset is to be reset (after an out-of-range fetch on a broker that came back
            # without its records), and a loop waiting there never polls, so never re-joins (the
            # broker-restart fault test saw scicow silent for 2 minutes). Measured next round.
            position = self.consumer.position(tp, timeout_ms=0) if end is not None else None
            if end is not None and position is not None:
                labels = (tp.topic, str(tp.partition))
                CONSUMER_LAG.labels(*labels).set(max(0, end - position))
                self.lag_reported.add(labels)

    def forget_lag(self, keep: set[tuple[str, str]]) -> None:
        for labels in self.lag_reported - keep:
            CONSUMER_LAG.remove(*labels)
        self.lag_reported &= keep

    def rejoin_if_stuck(self, polled: Polled) -> bool:
        if not self.watch.stuck(self.consumer.subscription(), self.consumer.assignment()):
            return False
        logger.warning("subscribed to %s but the group's assignment does not cover it: re-joining",
                       sorted(self.consumer.subscription()))
        rewind(self.consumer, polled)
        self.consumer.unsubscribe()
        self.consumer.subscribe(pattern=topic_pattern(self.settings.topic_prefix))
        return True

    def redrive_if_due(self) -> None:
        """Start a quarantine re-drive when one is due; report the last one once it is done."""
        if self.redriving is not None:
            if not self.redriving.done():
                return
            future, self.redriving = self.redriving, None
            try:
                redriven = future.result()
            except Exception as err:  # noqa: BLE001 - retried at the next interval
                logger.error("quarantine retry failed: %s: %s", type(err).__name__, err)
            else:
                if redriven.ingested and self.on_batch:
                    self.on_batch(redriven)
        if time.monotonic() < self.next_redrive:
            return
        self.next_redrive = time.monotonic() + self.settings.quarantine_retry_s
        self.redriving = self.redriver.submit(self.ingestor.redrive_quarantine)

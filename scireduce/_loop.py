"""The reduction worker's loop: a consumer group on the "dataset ingested" events.

For each finished raw dataset a rule matches, a job is made (its id derived from the dataset
and the rule, so a redelivered event finds the job it made) and run (:class:`~scireduce._reducer.Reducer`);
its outputs become a SciCat ``derived`` Dataset (its pid derived from the job, so a job run
twice still makes one), an OrigDatablock and the plot as an Attachment. Offsets are committed
once the batch's jobs are settled; a worker killed mid-job leaves the event uncommitted and the
job "running": another worker takes it over. Between polls the loop follows the store's rules,
runs the reruns asked for through the scan table and sweeps for jobs of dead workers.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

from kafka import KafkaConsumer
from kafka.errors import KafkaError
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

from scizoo.core import PIPELINE_COLLECTION, REDUCTION_RULES_COLLECTION, DatasetIngested, ensure_indexes, events_topic
from scizoo.ops import REDUCTION_JOBS, HealthServer, Readiness, broker_problem, first_problem
from scizoo.ops.kafka_records import COMMIT_TIMEOUT_MS, nudged, poll_reading_past, require_codecs
from scizoo.ops.store import store_problem

from ._describe import publish_pipelines
from ._ports import Clock, system_clock
from ._reducer import Worker
from ._registry import pipelines
from ._rules import RuleSet, StoredRules
from ._runner import close_runner, runner_for, start_runner
from ._settings import ScireduceSettings
from ._store import MongoCatalogue, MongoJobStore

logger = logging.getLogger(__name__)
Doc = dict[str, Any]


class Reducer(Worker):
    """A :class:`~scireduce._reducer.Worker` on the catalogue's MongoDB database, running jobs where
    the settings say (subprocesses, or a Dask cluster): what the loop and the commands use."""

    def __init__(self, db: Database[Doc], rules: RuleSet, settings: ScireduceSettings, *,
                 clock: Clock = system_clock) -> None:
        super().__init__(MongoJobStore.of(db), MongoCatalogue(db), runner_for(settings), rules, settings,
                         worker=settings.worker_id or f"{socket.gethostname()}:{os.getpid()}", clock=clock,
                         store_errors=(PyMongoError,), settled=lambda state: REDUCTION_JOBS.labels(state).inc())


def run_worker(settings: ScireduceSettings, stop: threading.Event, *, clock: Clock = system_clock) -> None:
    """Consume "dataset ingested" events until ``stop`` is set.

    Raises :class:`~scizoo.core.DependencyUnavailable` at once when a codec's library is missing:
    the events compressed with it could not be read, and would be skipped.
    """
    require_codecs("scireduce", "reduce")
    client: MongoClient[Doc] = MongoClient(settings.mongo_uri.get_secret_value(), tz_aware=True)
    db = client[settings.database]
    ensure_indexes(db)
    # The store's rules (an administrator edits them through the scan table), seeded from the
    # YAML file on the first start; re-read at each poll when their revision changed.
    rules = StoredRules(db[REDUCTION_RULES_COLLECTION], settings.rules_file, clock=clock)
    rules.seed()
    reducer = Reducer(db, rules.current(), settings, clock=clock)
    # What this worker runs, for the scan table to draw (it may not import scireduce).
    publish_pipelines(db[PIPELINE_COLLECTION], pipelines(), by=reducer.worker, now=clock())
    start_runner(reducer.runner)  # an unreachable Dask scheduler stops the worker here, in one sentence
    health = None
    if settings.health_port is not None:
        problem = first_problem(store_problem(settings.mongo_uri.get_secret_value(), service="scireduce",
                                              setting="SCIREDUCE_MONGO_URI"),
                                broker_problem(settings.kafka_bootstrap))
        health = HealthServer(settings.health_port, Readiness(problem)).start()
    consumer = KafkaConsumer(
        events_topic(settings.topic_prefix), bootstrap_servers=settings.kafka_bootstrap, **settings.kafka_security(),
        group_id=settings.group_id,
        enable_auto_commit=False, auto_offset_reset="earliest",
        # One event per poll: its jobs take seconds to minutes, and the time between polls must
        # stay under max_poll_interval_ms, or the worker is evicted in the middle of them.
        max_poll_records=1,
        max_poll_interval_ms=settings.max_poll_interval_ms, session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms)
    next_sweep = time.monotonic() + settings.sweep_interval_s
    # Imported here: `python -m scireduce._preview` (its process) must not find it imported by the package.
    from ._preview import start_previews

    previews_stop = threading.Event()
    previews = start_previews(db, reducer, previews_stop)  # answered beside the loop (scireduce._preview)
    try:
        # The network thread is woken every second, as scicow's (kafka_records.nudged).
        with nudged(consumer):
            while not stop.is_set():
                reducer.rules = rules.current()  # one read by _id
                reducer.take_requested()  # reruns asked for through the scan table (an indexed query)
                if time.monotonic() >= next_sweep:
                    reducer.sweep()
                    next_sweep = time.monotonic() + settings.sweep_interval_s
                # A batch that cannot be decoded is skipped like an event that does not validate (below).
                polled = poll_reading_past(consumer, settings.poll_timeout_ms, logger)
                for records in polled.values():
                    for record in records:
                        try:
                            event = DatasetIngested.model_validate_json(record.value)
                        except ValueError as err:
                            logger.error("not a 'dataset ingested' event at %s@%d: %s", record.topic, record.offset, err)
                            continue
                        reducer.handle(event)
                if polled:
                    try:
                        consumer.commit(timeout_ms=COMMIT_TIMEOUT_MS)
                    except KafkaError as err:
                        # Evicted or re-balancing: the event comes again to whoever owns it now, and
                        # its jobs are claimed once (a finished one is not run again).
                        logger.warning("event offset not committed (%s: %s); it will be read again",
                                       type(err).__name__, err)
    finally:
        previews_stop.set()
        previews.join(30)
        if health is not None:
            health.stop()
        consumer.close()
        close_runner(reducer.runner)
        client.close()

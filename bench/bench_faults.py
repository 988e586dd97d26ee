"""Fault benchmark: no scan's metadata is lost, and none is catalogued twice, whatever fails.

Real parts only: tansu (``EmbeddedKafka``), SecantusDB (``EmbeddedMongo``), scicow's
``run`` (in a thread) or ``scicow run`` (a subprocess, SIGKILLed), scifish's ``Capturer``
and ``SpoolingProducer`` over real Tango devices (``SimulatedBeamline``).

Scenarios (each prints sent / found / duplicates / lost / time to recover):

a. the broker SIGKILLed and restarted while scans are captured through a SpoolingProducer;
b. scicow (a subprocess) SIGKILLed at random points while it ingests, restarted each time;
c. the store stopped mid-ingestion, then started again on the same port and files;
d. Tango devices that hang (SIGSTOP), are killed, lack an attribute, return NaN or huge values;
e. the spool's disk full (RLIMIT_FSIZE) while Kafka is down.

What "found" means: the datasets in the store, told apart by the message id each carries
(``scientificMetadata.message_id``). "duplicates": the documents beyond one per message id
(Dataset and OrigDatablock), plus any dataset whose message id was never sent. "lost": the
message ids sent but not found. Exit code 1 unless every scenario has lost = 0 and
duplicates = 0.

About (a): tansu keeps its log in memory, so a killed broker comes back empty (no topics,
no records, no committed offsets). A record it had acknowledged but scicow had not yet
ingested is gone with it; a real Kafka (acks=all, replicated, on disk) keeps it. Such
records are counted in their own column ("gone with the broker") and are not scizoo's
loss: scifish did its part (Kafka acknowledged them). ``--strict`` counts them as lost.

Run: .venv/bin/python bench/bench_faults.py [--only abcde] [--scans 1000] [--messages 10000] ...
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kafka import KafkaProducer
from pymongo import MongoClient
from pymongo.database import Database

from scicow import ScicowSettings, run
from scizoo.core import (
    DATASET_COLLECTION,
    ORIG_DATABLOCK_COLLECTION,
    PROPOSAL_COLLECTION,
    AttributeConfig,
    BeamlineConfig,
    DataFile,
    RecordedEntry,
    ScanBlock,
    ScanMetadata,
    beamline_topic,
    load_beamline_config,
)
from scizoo.testing import EmbeddedKafka, EmbeddedMongo, free_port

PROPOSAL = {"_id": "20240001", "proposalId": "20240001", "title": "Fault benchmark", "pi_email": "pi@example.org",
            "pi_firstname": "Grace", "pi_lastname": "Hopper", "ownerGroup": "20240001"}
PID_PREFIX = "20.500.99999"
#: Consumer-group timing as in the system tests: a join waits for these.
GROUP_TIMING = {"max_poll_interval_ms": 3000, "session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}
#: scicow's own defaults (ScicowSettings): a member may spend up to 300 s on a batch.
SCICOW_GROUP_DEFAULTS = {"max_poll_interval_ms": 300_000, "session_timeout_ms": 10_000, "heartbeat_interval_ms": 3000}

logger = logging.getLogger("bench_faults")


# ---------------------------------------------------------------------------------------
# Counting


@dataclass
class Tally:
    """What the store holds for a set of message ids."""

    sent: int
    found: int
    duplicates: int
    lost: int
    missing: set[str] = field(default_factory=set)


def store_ids(db: Database[dict[str, Any]]) -> list[str]:
    """The message id of every dataset in the store (one entry per document)."""
    docs = db[DATASET_COLLECTION].find({}, {"scientificMetadata.message_id": 1})
    return [d["scientificMetadata"]["message_id"]["value"] for d in docs]


def tally(db: Database[dict[str, Any]], sent: set[str]) -> Tally:
    ids = store_ids(db)
    distinct = set(ids)
    blocks = Counter(d["datasetId"] for d in db[ORIG_DATABLOCK_COLLECTION].find({}, {"datasetId": 1}))
    duplicates = (len(ids) - len(distinct)) + sum(n - 1 for n in blocks.values()) + len(distinct - sent)
    missing = sent - distinct
    return Tally(sent=len(sent), found=len(distinct & sent), duplicates=duplicates, lost=len(missing), missing=missing)


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def wait_for_count(db: Database[dict[str, Any]], n: int, timeout: float) -> bool:
    last = [time.monotonic()]

    def enough() -> bool:
        count = _count_or(db[DATASET_COLLECTION], -1)
        if time.monotonic() - last[0] > 10:
            last[0] = time.monotonic()
            logger.info("%s: %d of %d datasets", db.name, count, n)
        return count >= n
    return wait_until(enough, timeout)


@dataclass
class Row:
    """One scenario's line of the table."""

    scenario: str
    sent: int
    found: int
    duplicates: int
    lost: int
    recover_s: float | None
    notes: list[str] = field(default_factory=list)
    #: Acknowledged by a broker that was then killed with them in memory (scenario a only).
    broker_lost: int = 0
    #: Anything else the scenario checks (a reported error, per-attribute errors, ...).
    checks_ok: bool = True
    #: scicow made no progress by itself and had to be restarted (scenario a).
    stalled: bool = False

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicates == 0 and self.found == self.sent - self.broker_lost and self.checks_ok


def print_table(rows: list[Row]) -> None:
    head = f"{'scenario':<44} {'sent':>7} {'found':>7} {'dupl.':>6} {'lost':>5} {'gone w/ broker':>14} {'recover':>9}  ok"
    print()
    print(head)
    print("-" * len(head))
    for r in rows:
        rec = f"{r.recover_s:7.1f} s" if r.recover_s is not None else "      -  "
        print(f"{r.scenario:<44} {r.sent:>7} {r.found:>7} {r.duplicates:>6} {r.lost:>5} {r.broker_lost:>14} {rec:>9}"
              f"  {'yes' if r.ok else 'NO'}")
    for r in rows:
        for note in r.notes:
            print(f"  {r.scenario.split()[0]} {note}")


# ---------------------------------------------------------------------------------------
# Messages and services


def make_message(n: int, prefix: str, *, entries: int = 5, proposal: str = "20240001") -> ScanMetadata:
    end = datetime(2026, 11, 20, 12, 0, tzinfo=UTC) + timedelta(seconds=n)
    return ScanMetadata(
        message_id=f"{prefix}-{n}", beamline="sim", source="manual", proposal_id=proposal,
        data_path="/data/sim/20240001/raw",
        scan=ScanBlock(id=str(n), title=f"ascan mot01 0 10 10 0.1 #{n}", start=end - timedelta(seconds=30), end=end,
                       points=11, files=[DataFile(path=f"/data/sim/20240001/raw/scan_{n:05d}.h5", size=1000 + n)]),
        entries=[RecordedEntry(name=f"sample_motor_{k}", device=f"sim/mot/{k}", attribute="position", value=0.1 * n + k,
                               raw_value=0.1 * n + k, unit="mm", quality="ATTR_VALID", read_time=end)
                 for k in range(entries)],
        produced_at=end,
    )


def produce(bootstrap: str, topic_prefix: str, messages: list[ScanMetadata]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        for m in messages:
            producer.send(beamline_topic(topic_prefix, m.beamline), key=f"{m.beamline}/{m.scan.id}".encode(),
                          value=m.model_dump_json().encode())
        producer.flush()
    finally:
        producer.close()


def fresh_db(client: MongoClient[dict[str, Any]], name: str) -> Database[dict[str, Any]]:
    client.drop_database(name)
    db = client[name]
    db[PROPOSAL_COLLECTION].insert_one(dict(PROPOSAL))
    return db


def scicow_settings(bootstrap: str, mongo_uri: str, name: str, **more: Any) -> ScicowSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap": bootstrap, "topic_prefix": name, "group_id": f"scicow-{name}", "mongo_uri": mongo_uri,
        "database": name, "pid_prefix": PID_PREFIX, "staff_groups": {"sim": "sim-staff"}, "connect_timeout_s": 3.0,
        **GROUP_TIMING,
    }
    values.update(more)
    return ScicowSettings(**values)


class ScicowProcess:
    """``scicow run`` as a subprocess (SCICOW_* settings), restarted whenever it exits on its own.

    A service manager (systemd ``Restart=always``, a Kubernetes Deployment) does the same in
    production; every exit it sees is counted in ``exits``, every SIGKILL in ``kills``.
    """

    def __init__(self, settings: ScicowSettings, log_path: Path, *, restart_delay_s: float = 1.0) -> None:
        self.env = {**os.environ, **{f"SCICOW_{k.upper()}": v for k, v in _env_values(settings).items()}}
        self.log_path = log_path
        self.restart_delay_s = restart_delay_s
        self.exits: list[int] = []
        self.kills = 0
        self.starts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watch = threading.Thread(target=self._supervise, daemon=True)

    def _spawn(self) -> None:
        log = self.log_path.open("ab")
        try:
            self._proc = subprocess.Popen([sys.executable, "-m", "scizoo.cli", "scicow", "run", "--no-verbose"],
                                          env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                          preexec_fn=_die_with_parent)  # noqa: PLW1509 - only a prctl call
        finally:
            log.close()
        self.starts += 1

    def start(self) -> None:
        with self._lock:
            self._spawn()
        self._watch.start()

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                proc = self._proc
            if proc is not None and proc.poll() is not None:
                with self._lock:
                    if self._proc is proc and not self._stopping.is_set():
                        self.exits.append(proc.returncode)
                        self._proc = None
                self._stopping.wait(self.restart_delay_s)
                with self._lock:
                    if self._proc is None and not self._stopping.is_set():
                        self._spawn()
            self._stopping.wait(0.1)

    def dump_stacks(self) -> None:
        """Have scicow write its threads' stacks to its log (SIGUSR1), and give it a moment to."""
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGUSR1)
            time.sleep(1.0)

    def kill(self) -> None:
        """SIGKILL scicow and start it again at once."""
        with self._lock:
            proc = self._proc
            if proc is None:
                return
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            self.kills += 1
            self._spawn()

    def stop(self) -> None:
        self._stopping.set()
        if self._watch.is_alive():
            self._watch.join(10)
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _die_with_parent() -> None:
    """Linux: SIGKILL the child when the thread that started it ends, so none outlives the benchmark."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _env_values(settings: ScicowSettings) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        out[name] = json.dumps(raw) if isinstance(raw, (dict, list)) else str(raw)
    return out


class ScicowThread:
    """scicow's ``run`` in a thread; an exception it ends with is kept in ``error``."""

    def __init__(self, settings: ScicowSettings) -> None:
        self.settings = settings
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            run(self.settings, self.stop_event)
        except BaseException as err:  # noqa: BLE001 - reported by the scenario
            self.error = err
            logger.error("scicow ended with %s: %s", type(err).__name__, err)

    def start(self) -> ScicowThread:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(60)


@contextlib.contextmanager
def services(work: Path, *, kafka: EmbeddedKafka | None = None,
             mongo: EmbeddedMongo | None = None) -> Iterator[tuple[EmbeddedKafka, EmbeddedMongo]]:
    """A broker and a store: the ones given (left running) or fresh ones (stopped at the end)."""
    with contextlib.ExitStack() as stack:
        if kafka is None:
            kafka = stack.enter_context(EmbeddedKafka())
        if mongo is None:
            mongo = stack.enter_context(EmbeddedMongo(work / "store"))
        yield kafka, mongo


def sim_config() -> BeamlineConfig:
    return load_beamline_config(ROOT / "config" / "beamlines" / "sim.yaml")


def kill_broker(kafka: EmbeddedKafka) -> None:
    """SIGKILL tansu (no clean shutdown) and forget the process; ``start()`` reuses the port."""
    if kafka.pid is not None:
        os.kill(kafka.pid, signal.SIGKILL)
    kafka.stop()


# ---------------------------------------------------------------------------------------
# a. The broker killed while scans are captured


def broker_kill(work: Path, *, scans: int = 1000, down_s: float = 15.0, interval_s: float = 0.0,
                send_timeout_s: float = 5.0, stall_s: float = 60.0, seed: int = 1,
                mongo: EmbeddedMongo | None = None, timeout_s: float = 180.0) -> Row:
    """Capture ``scans`` scans through a SpoolingProducer; SIGKILL the broker at a random
    scan, keep it down ``down_s`` while capture goes on, start it again on the same port.

    scicow runs throughout as a supervised subprocess (restarted when it exits). Found:
    datasets in the store. A scan Kafka acknowledged before the kill and that scicow had
    not ingested by then is "gone with the broker" (tansu keeps records in memory only).
    If scicow has not caught up ``stall_s`` after the restart, it is restarted once and the
    scenario fails (a stall that needs a person is not a recovery).
    """
    from scifish import Capturer, ScanRequest, SpoolingProducer, TangoReader
    from scifish.testing import SimulatedBeamline, demo_devices

    rng = random.Random(seed)
    name = f"fa{os.getpid()}"
    kill_at = rng.randint(scans // 5, scans // 2)
    with contextlib.ExitStack() as stack:
        kafka = stack.enter_context(EmbeddedKafka())
        _, mongo = stack.enter_context(services(work, kafka=kafka, mongo=mongo))
        beamline = stack.enter_context(SimulatedBeamline(demo_devices("20240001", str(work / "raw") + "/")))
        client: MongoClient[dict[str, Any]] = stack.enter_context(MongoClient(mongo.uri, tz_aware=True))
        db = fresh_db(client, name)
        reader = TangoReader(beamline.addresses, timeout_s=2.0)
        stack.callback(reader.close)
        producer = SpoolingProducer(kafka.bootstrap_servers, work / "spool-a", send_timeout_s=send_timeout_s,
                                    retry_interval_s=0.5)
        stack.callback(producer.close)
        capturer = Capturer(sim_config(), reader, producer, name)
        scicow = ScicowProcess(scicow_settings(kafka.bootstrap_servers, mongo.uri, name), work / "scicow-a.log")
        stack.callback(scicow.stop)

        # What each capture became, and when capture_one returned (monotonic).
        outcomes: dict[str, tuple[str, float]] = {}
        started_at: dict[str, float] = {}
        capture_ms: list[float] = []
        errors: list[BaseException] = []
        done = threading.Event()

        def capture(n: int) -> None:
            started_at[f"{name}-{n}"] = time.monotonic()
            t = time.perf_counter()
            sent = capturer.capture_one(ScanRequest(_scan(n), f"{name}-{n}"), source="manual", now=datetime.now(UTC))
            capture_ms.append(1000 * (time.perf_counter() - t))
            outcomes[sent.message.message_id] = (sent.outcome, time.monotonic())

        def capture_all() -> None:
            try:
                for n in range(1, scans):
                    capture(n)
                    if interval_s:
                        time.sleep(interval_s)
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)
            finally:
                done.set()

        capture(0)  # the beamline topic exists before scicow joins
        scicow.start()
        if not wait_for_count(db, 1, 60):
            raise RuntimeError(f"scicow ingested nothing within 60 s:\n{scicow.log_tail()}")
        worker = threading.Thread(target=capture_all, daemon=True)
        worker.start()
        # The broker is killed and started from this (the main) thread: tansu gets SIGTERM
        # when the thread that started it ends.
        wait_until(lambda: len(outcomes) > kill_at or done.is_set(), timeout_s, step=0.005)
        in_store_at_kill = db[DATASET_COLLECTION].count_documents({})
        killed = time.monotonic()
        kill_broker(kafka)
        captured_at_kill = len(outcomes)
        time.sleep(down_s)
        restarting = time.monotonic()
        kafka.start()
        restarted = time.monotonic()
        done.wait(timeout_s)
        # Captured while the broker was down: the capture started between the kill and the restart.
        during = {m for m, t in started_at.items() if killed < t < restarting}
        pending_after_capture = producer.pending()
        sent_ids = set(outcomes)

        # What must arrive whatever the broker lost: every scan captured after the kill.
        after_kill = {m for m, (_, t) in outcomes.items() if t > killed}

        def caught_up() -> bool:
            return producer.pending() == 0 and after_kill <= set(store_ids(db))
        # As the note says: caught up within stall_s of the broker's restart (not of the end of
        # capture, which, with captures no longer waiting on the spool, may come first).
        stalled = not wait_until(caught_up, max(0.0, restarted + stall_s - time.monotonic()), step=0.5)
        if stalled:
            scicow.dump_stacks()  # where it waits, in its log (run_service's SIGUSR1 handler)
        stall_log = scicow.log_tail(60) if stalled else ""
        if stalled:
            # As a liveness probe would: scicow made no progress, so it is restarted.
            scicow.kill()
            wait_until(caught_up, timeout_s, step=0.5)
        # Recovery: from the restart until every scan captured while the broker was down is catalogued.
        recovered = _when_all_found(db, during, restarted, timeout_s)
        wait_until(lambda: False, 3.0)  # let a late batch land before counting duplicates
        result = tally(db, sent_ids)
        # Acknowledged by the old broker (capture_one returned "sent" before the restart) and
        # not in the store: they were in tansu's memory only.
        gone = {m for m in result.missing if outcomes[m][0] == "sent" and outcomes[m][1] < restarting}
        spooled = sum(1 for o, _ in outcomes.values() if o == "spooled")
        refused = sum(1 for o, _ in outcomes.values() if o == "refused")
        during_ms = [capture_ms[i] for i, m in enumerate(outcomes) if m in during]
        notes = [
            f"killed after {captured_at_kill} captures ({in_store_at_kill} in the store), down {down_s:g} s; "
            f"{len(during)} captured while down; {spooled} spooled in all, {refused} refused; "
            f"spool pending when capture ended: {pending_after_capture}",
            f"capture time per scan: median {statistics.median(capture_ms):.1f} ms, "
            f"while the broker was down median {_median(during_ms):.0f} ms / max {max(during_ms, default=0):.0f} ms",
            f"scicow exits seen by its supervisor: {len(scicow.exits)} (codes {sorted(set(scicow.exits))}), "
            f"starts {scicow.starts}",
        ]
        if stalled:
            notes.append(f"scicow STALLED: not caught up {stall_s:g} s after the broker came back (spool pending "
                         f"{producer.pending()}, {len(after_kill - set(store_ids(db)))} captured after the kill not "
                         f"in the store); SIGKILLed and restarted it (as a liveness probe would) - see "
                         f"{scicow.log_path}; its log ended: {stall_log[-6000:]}")
        if gone:
            notes.append(f"{len(gone)} acknowledged by the killed broker before scicow ingested them "
                         f"(tansu's memory storage): {sorted(gone)[:5]}")
        if errors:
            notes.append(f"capture raised {type(errors[0]).__name__}: {errors[0]}")
        return Row("a. broker SIGKILLed during capture", result.sent, result.found, result.duplicates,
                   result.lost - len(gone), recovered, notes, broker_lost=len(gone),
                   checks_ok=not errors and not stalled, stalled=stalled)


def _scan(n: int) -> ScanBlock:
    end = datetime(2026, 11, 20, 12, 0, tzinfo=UTC) + timedelta(seconds=n)
    return ScanBlock(id=str(n), title=f"ascan mot01 0 10 10 0.1 #{n}", start=end - timedelta(seconds=30), end=end,
                     points=11, files=[DataFile(path=f"/data/sim/20240001/raw/scan_{n:05d}.h5", size=1000 + n)])


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _when_all_found(db: Database[dict[str, Any]], ids: set[str], since: float, timeout_s: float) -> float | None:
    if wait_until(lambda: ids <= set(store_ids(db)), timeout_s, step=0.5):
        return time.monotonic() - since
    return None


# ---------------------------------------------------------------------------------------
# b. scicow SIGKILLed at random points


def scicow_kills(work: Path, *, messages: int = 10_000, kills: int = 5, batch_max: int = 50, seed: int = 2,
                 group_timing: dict[str, int] | None = None, kafka: EmbeddedKafka | None = None,
                 mongo: EmbeddedMongo | None = None, timeout_s: float = 600.0) -> Row:
    """``messages`` scans on the topic; ``scicow run`` SIGKILLed ``kills`` times, each at a
    random point of the ingestion, and started again at once."""
    rng = random.Random(seed)
    name = f"fb{os.getpid()}"
    with contextlib.ExitStack() as stack:
        kafka, mongo = stack.enter_context(services(work, kafka=kafka, mongo=mongo))
        client: MongoClient[dict[str, Any]] = stack.enter_context(MongoClient(mongo.uri, tz_aware=True))
        db = fresh_db(client, name)
        batch = [make_message(n, name) for n in range(messages)]
        produce(kafka.bootstrap_servers, name, batch)
        sent = {m.message_id for m in batch}
        # Kill points: distinct counts of datasets, spread over the run (none at the very end).
        points = sorted(rng.sample(range(max(1, messages // 50), messages - messages // 20), kills))
        settings = scicow_settings(kafka.bootstrap_servers, mongo.uri, name, batch_max=batch_max,
                                   **(group_timing or {}))
        scicow = ScicowProcess(settings, work / "scicow-b.log")
        stack.callback(scicow.stop)
        scicow.start()
        started = time.monotonic()
        datasets = db[DATASET_COLLECTION]
        recoveries: list[float] = []
        at_kill: list[int] = []
        for point in points:
            if not wait_until(lambda p=point: datasets.count_documents({}) >= p, timeout_s, step=0.02):
                break
            count = datasets.count_documents({})
            if count >= messages:
                break  # ingestion outran the kill points: the row says how many kills there were
            at_kill.append(count)
            scicow.kill()
            killed = time.monotonic()
            # Recovered once the new process ingests what the killed one had not.
            if wait_until(lambda c=count: datasets.count_documents({}) > c, timeout_s, step=0.1):
                recoveries.append(time.monotonic() - killed)
        wait_for_count(db, messages, timeout_s)
        elapsed = time.monotonic() - started
        wait_until(lambda: False, 3.0)  # a redelivered batch would land now
        result = tally(db, sent)
        # "lost" here: not in the store when the scenario gave up (the records are still on Kafka).
        notes = [f"killed at {at_kill} datasets; recoveries {[round(r, 1) for r in recoveries]} s; "
                 f"all {messages} in {elapsed:.1f} s; batch_max {batch_max}, max_poll_interval "
                 f"{settings.max_poll_interval_ms} ms, session {settings.session_timeout_ms} ms; "
                 f"exits on its own: {len(scicow.exits)} (codes {sorted(set(scicow.exits))})"]
        return Row(f"b. scicow SIGKILLed {scicow.kills}x", result.sent, result.found, result.duplicates, result.lost,
                   max(recoveries) if recoveries else None, notes, checks_ok=scicow.kills == kills)


# ---------------------------------------------------------------------------------------
# c. The store stopped mid-ingestion


def store_outage(work: Path, *, messages: int = 5000, outage_s: float = 30.0, batch_max: int = 100,
                 group_timing: dict[str, int] | None = None, kafka: EmbeddedKafka | None = None,
                 timeout_s: float = 300.0) -> Row:
    """``messages`` scans; the store is stopped once a fifth are in, kept down ``outage_s``,
    started again on the same port and files. scicow (a thread, default store client
    settings) keeps running throughout."""
    name = f"fc{os.getpid()}"
    with contextlib.ExitStack() as stack:
        if kafka is None:
            kafka = stack.enter_context(EmbeddedKafka())
        mongo = EmbeddedMongo(work / "store-c")
        mongo.start()
        stack.callback(mongo.stop)
        client: MongoClient[dict[str, Any]] = stack.enter_context(MongoClient(mongo.uri, tz_aware=True))
        db = fresh_db(client, name)
        batch = [make_message(n, name) for n in range(messages)]
        produce(kafka.bootstrap_servers, name, batch[: messages // 2])
        settings = scicow_settings(kafka.bootstrap_servers, mongo.uri, name, batch_max=batch_max,
                                   **(group_timing or SCICOW_GROUP_DEFAULTS))
        scicow = ScicowThread(settings).start()
        stack.callback(scicow.stop)
        datasets = db[DATASET_COLLECTION]
        wait_for_count(db, messages // 5, timeout_s)
        before = datasets.count_documents({})
        mongo.stop()
        stopped = time.monotonic()
        # The second half arrives while the store is away.
        produce(kafka.bootstrap_servers, name, batch[messages // 2 :])
        time.sleep(max(0.0, outage_s - (time.monotonic() - stopped)))
        mongo.start()
        restarted = time.monotonic()
        at_restart = _count_or(datasets, before)
        # Recovered: once ingestion moves again after the restart.
        progressed = wait_until(lambda: _count_or(datasets, -1) > at_restart, timeout_s, step=0.2)
        recovered = time.monotonic() - restarted if progressed else None
        complete = wait_for_count(db, messages, timeout_s)
        all_in = time.monotonic() - restarted
        wait_until(lambda: False, 3.0)
        result = tally(db, {m.message_id for m in batch})
        notes = [f"store stopped at {before} datasets for {restarted - stopped:.1f} s ({at_restart} at its restart); "
                 f"all {messages} {'in' if complete else 'NOT in'} {all_in:.1f} s after its restart; "
                 f"max_poll_interval {settings.max_poll_interval_ms} ms; scicow alive: {scicow.thread.is_alive()}, "
                 f"error: {scicow.error!r}"]
        return Row(f"c. store stopped {outage_s:g} s", result.sent, result.found, result.duplicates, result.lost,
                   recovered, notes, checks_ok=scicow.error is None)


def _count_or(collection: Any, default: int) -> int:
    try:
        return int(collection.count_documents({}))
    except Exception:  # noqa: BLE001 - the store may still be starting
        return default


# ---------------------------------------------------------------------------------------
# d. Tango devices that misbehave


HUGE_CHARS = 2_000_000


def misbehaving_devices(work: Path, *, scans: int = 20, huge_chars: int = HUGE_CHARS, timeout_s: float = 120.0,
                        kafka: EmbeddedKafka | None = None, mongo: EmbeddedMongo | None = None) -> Row:
    """Capture ``scans`` scans with the demo devices plus: one server frozen (SIGSTOP), one
    killed, an attribute that does not exist, a motor at NaN and one at +inf, and a string
    attribute of ``huge_chars`` characters (in a separate scan, as the last one).

    Every scan must still be produced and catalogued, each unreadable attribute with its
    own error; the capture time of every scan is printed.
    """
    import tango

    from scifish import Capturer, ScanRequest, SpoolingProducer, TangoReader
    from scifish.testing import SimDeviceSpec, SimulatedBeamline, demo_devices

    name = f"fd{os.getpid()}"
    base = sim_config()
    extra = [
        AttributeConfig(name="hung_motor", device="sim/hung/1", attribute="position", unit="mm"),
        AttributeConfig(name="dead_motor", device="sim/dead/1", attribute="position", unit="mm"),
        AttributeConfig(name="no_such_attribute", device="sim/motor/x", attribute="no_such_attr"),
        AttributeConfig(name="nan_motor", device="sim/nan/1", attribute="position", unit="mm"),
        AttributeConfig(name="inf_motor", device="sim/inf/1", attribute="position", unit="mm"),
    ]
    huge_attr = AttributeConfig(name="huge_string", device="sim/huge/1", attribute="data_path")
    config = base.model_copy(update={"attributes": [*base.attributes, *extra]})
    huge_config = base.model_copy(update={"attributes": [*base.attributes, *extra, huge_attr]})
    with contextlib.ExitStack() as stack:
        kafka, mongo = stack.enter_context(services(work, kafka=kafka, mongo=mongo))
        main = stack.enter_context(SimulatedBeamline([
            *demo_devices("20240001", str(work / "raw") + "/"),
            SimDeviceSpec("SimMotor", "sim/nan/1", {"Position0": math.nan}),
            SimDeviceSpec("SimMotor", "sim/inf/1", {"Position0": math.inf}),
            SimDeviceSpec("PathFixer", "sim/huge/1", {"Proposal": "x", "DataPath": "x"}),
        ]))
        hung = stack.enter_context(SimulatedBeamline([SimDeviceSpec("SimMotor", "sim/hung/1")]))
        dead = stack.enter_context(SimulatedBeamline([SimDeviceSpec("SimMotor", "sim/dead/1")]))
        client: MongoClient[dict[str, Any]] = stack.enter_context(MongoClient(mongo.uri, tz_aware=True))
        db = fresh_db(client, name)
        tango.DeviceProxy(main.addresses["sim/huge/1"]).write_attribute("data_path", "H" * huge_chars)
        addresses = {**main.addresses, **hung.addresses, **dead.addresses}
        reader = TangoReader(addresses, timeout_s=1.0)
        stack.callback(reader.close)
        producer = SpoolingProducer(kafka.bootstrap_servers, work / "spool-d", send_timeout_s=5.0)
        stack.callback(producer.close)
        hung.freeze()
        stack.callback(hung.thaw)
        dead.kill()
        capturer = Capturer(config, reader, producer, name)
        scicow = ScicowThread(scicow_settings(kafka.bootstrap_servers, mongo.uri, name)).start()
        stack.callback(scicow.stop)
        times: list[float] = []
        sent = []
        for n in range(scans):
            t = time.perf_counter()
            sent.append(capturer.capture_one(ScanRequest(_scan(n), f"{name}-{n}"), source="manual",
                                             now=datetime.now(UTC)))
            times.append(time.perf_counter() - t)
        huge_capturer = Capturer(huge_config, reader, producer, name)
        t = time.perf_counter()
        huge = huge_capturer.capture_one(ScanRequest(_scan(scans), f"{name}-{scans}"), source="manual",
                                         now=datetime.now(UTC))
        huge_s = time.perf_counter() - t
        sent.append(huge)
        ids = {s.message.message_id for s in sent}
        # Wait for what Kafka took; a refused scan cannot arrive (it is in the spool's dead-letter file).
        delivered = sum(1 for s in sent if s.outcome != "refused")
        wait_until(lambda: db[DATASET_COLLECTION].count_documents({}) >= delivered, timeout_s)
        result = tally(db, ids)

        # Each misbehaving attribute has its own error (or, for NaN/inf, what was recorded).
        first = {e.name: e for e in sent[0].message.entries}
        errors_ok = all(first[a.name].error for a in extra[:3])
        good_ok = all(first[a.name].error is None and first[a.name].value is not None
                      for a in base.attributes if a.at != "end")
        nan_entry, inf_entry = first["nan_motor"], first["inf_motor"]
        doc = db[DATASET_COLLECTION].find_one({"scientificMetadata.message_id.value": f"{name}-0"}) or {}
        meta = doc.get("scientificMetadata", {})
        outcomes = Counter(s.outcome for s in sent)
        notes = [
            "capture time per scan (s): " + ", ".join(f"{x:.2f}" for x in times) + f"; huge-value scan {huge_s:.2f}",
            f"outcomes {dict(outcomes)}; unreachable {sorted(reader.unreachable())}",
            *(f"  {a.name}: error={first[a.name].error!r}" for a in extra[:3]),
            f"  nan_motor: value={nan_entry.value!r} error={nan_entry.error!r} -> catalogue "
            f"{meta.get('nan_motor', {}).get('value')!r}",
            f"  inf_motor: value={inf_entry.value!r} error={inf_entry.error!r} -> catalogue "
            f"{meta.get('inf_motor', {}).get('value')!r}",
            f"  huge_string ({huge_chars:,} chars): outcome {huge.outcome!r}, message "
            f"{len(huge.message.model_dump_json()):,} bytes; in the catalogue: {f'{name}-{scans}' not in result.missing}",
            f"  good attributes all read: {good_ok}; scicow error: {scicow.error!r}",
        ]
        # NaN, infinities and a huge value are errors of their own entry (not null, not a lost scan).
        huge_entry = next(e for e in huge.message.entries if e.name == "huge_string")
        values_ok = bool(nan_entry.error and inf_entry.error and huge_entry.error)
        notes.append(f"  huge_string entry: error={huge_entry.error!r}")
        return Row("d. Tango: hung, killed, missing, NaN, huge", result.sent, result.found, result.duplicates,
                   result.lost, None, notes, checks_ok=errors_ok and good_ok and values_ok)


# ---------------------------------------------------------------------------------------
# e. The spool's disk full while Kafka is down


# Runs in a child so that its file-size limit (a full disk, as far as the spool can tell)
# touches nothing else. SIGXFSZ is ignored, so a write past the limit fails with EFBIG.
_FULL_DISK_CHILD = """
import json, resource, signal, sys
from datetime import UTC, datetime, timedelta
from scifish import Capturer, ScanRequest, SpoolError, SpoolingProducer, TangoReader
from scizoo.core import DataFile, ScanBlock, load_beamline_config

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
folder, bootstrap, addresses, prefix, limit, most, config = sys.argv[1:8]
reader = TangoReader(json.loads(addresses), timeout_s=2.0)
producer = SpoolingProducer(bootstrap, folder, send_timeout_s=0.5, retry_interval_s=3600)
capturer = Capturer(load_beamline_config(config), reader, producer, prefix)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
out = {"spooled": [], "other": [], "error": None, "after_error": None}
for n in range(int(most)):
    end = datetime(2026, 11, 20, 12, 0, tzinfo=UTC) + timedelta(seconds=n)
    scan = ScanBlock(id=str(n), start=end - timedelta(seconds=30), end=end,
                     files=[DataFile(path=f"/data/sim/20240001/raw/scan_{n:05d}.h5", size=1)])
    try:
        sent = capturer.capture_one(ScanRequest(scan, f"{prefix}-{n}"), source="manual", now=datetime.now(UTC))
    except SpoolError as err:
        if out["error"] is None:
            out["error"] = str(err)
            continue  # one more: a full disk stays an error, every time
        out["after_error"] = str(err)
        break
    (out["spooled"] if sent.outcome == "spooled" else out["other"]).append(sent.message.message_id)
producer.close()
reader.close()
print("RESULT " + json.dumps(out))
"""


def full_spool_disk(work: Path, *, limit_bytes: int = 256 * 1024, timeout_s: float = 120.0,
                    mongo: EmbeddedMongo | None = None) -> Row:
    """A capture process whose files may not grow past ``limit_bytes`` (RLIMIT_FSIZE) spools
    while Kafka is down until the spool cannot take more: the capture must raise SpoolError,
    and every scan spooled before must reach the catalogue once Kafka is back."""
    from scifish import Spool, SpoolingProducer
    from scifish.testing import SimulatedBeamline, demo_devices

    name = f"fe{os.getpid()}"
    folder = work / "spool-e"
    with contextlib.ExitStack() as stack:
        kafka = EmbeddedKafka()
        kafka.port = free_port()  # down: nothing listens there yet
        stack.callback(kafka.stop)
        _, mongo = stack.enter_context(services(work, kafka=kafka, mongo=mongo))
        beamline = stack.enter_context(SimulatedBeamline(demo_devices("20240001", str(work / "raw") + "/")))
        client: MongoClient[dict[str, Any]] = stack.enter_context(MongoClient(mongo.uri, tz_aware=True))
        db = fresh_db(client, name)
        done = subprocess.run(
            [sys.executable, "-B", "-c", _FULL_DISK_CHILD, str(folder), kafka.bootstrap_servers,
             json.dumps(beamline.addresses), name, str(limit_bytes), "100000",
             str(ROOT / "config" / "beamlines" / "sim.yaml")],
            capture_output=True, text=True, timeout=timeout_s, check=False, cwd=ROOT,
        )
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
        if done.returncode != 0 or not lines:
            raise RuntimeError(f"the capture child failed ({done.returncode}):\n{done.stderr[-3000:]}")
        child = json.loads(lines[-1][len("RESULT ") :])
        spooled: list[str] = child["spooled"]
        with Spool(folder) as spool:
            on_disk = [ScanMetadata.model_validate_json(r.value).message_id for r in spool.pending()]
            torn = len(spool.lines()) - len(spool.pending())
        loud = "SpoolError" in done.stderr or "cannot be written" in (child["error"] or "")
        # Kafka comes back: the spool drains, scicow ingests.
        kafka.start()
        restarted = time.monotonic()
        producer = SpoolingProducer(kafka.bootstrap_servers, folder, retry_interval_s=0.5)
        stack.callback(producer.close)
        scicow = ScicowThread(scicow_settings(kafka.bootstrap_servers, mongo.uri, name)).start()
        stack.callback(scicow.stop)
        drained = wait_until(lambda: producer.pending() == 0, timeout_s)
        complete = wait_for_count(db, len(spooled), timeout_s)
        recovered = time.monotonic() - restarted if complete else None
        wait_until(lambda: False, 2.0)
        result = tally(db, set(spooled))
        notes = [
            f"RLIMIT_FSIZE {limit_bytes:,} bytes: {len(spooled)} scans spooled, then SpoolError: {child['error']!r}",
            f"the next capture: {child['after_error']!r}",
            f"spool on disk after the error: {len(on_disk)} records, same ids in order: {on_disk == spooled}, "
            f"torn lines {torn}; drained after Kafka came back: {drained}",
        ]
        checks = (bool(child["error"]) and "cannot be written" in child["error"] and bool(child["after_error"])
                  and on_disk == spooled and torn == 0 and not child["other"] and loud)
        return Row("e. spool disk full, Kafka down", result.sent, result.found, result.duplicates, result.lost,
                   recovered, notes, checks_ok=checks)


# ---------------------------------------------------------------------------------------


def _timing(text: str) -> dict[str, int]:
    poll, session, heartbeat = (int(x) for x in text.split(","))
    return {"max_poll_interval_ms": poll, "session_timeout_ms": session, "heartbeat_interval_ms": heartbeat}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="abcde", help="scenarios to run, e.g. 'ab' (default: abcde)")
    parser.add_argument("--scans", type=int, default=1000, help="a: scans captured (default 1000)")
    parser.add_argument("--broker-down", type=float, default=15.0, help="a: seconds the broker stays down")
    parser.add_argument("--send-timeout", type=float, default=5.0,
                        help="a: SpoolingProducer send_timeout_s (default 5, scifish's default)")
    parser.add_argument("--interval", type=float, default=0.0, help="a: pause between captures (s)")
    parser.add_argument("--messages", type=int, default=10_000, help="b: messages (default 10000)")
    parser.add_argument("--kills", type=int, default=5, help="b: SIGKILLs (default 5)")
    parser.add_argument("--batch-max", type=int, default=50, help="b: scicow's batch_max (default 50)")
    parser.add_argument("--group-timing", default="300000,10000,3000",
                        help="b: max_poll_interval_ms,session_timeout_ms,heartbeat_interval_ms "
                             "(default scicow's own: 300000,10000,3000)")
    parser.add_argument("--store-messages", type=int, default=5000, help="c: messages (default 5000)")
    parser.add_argument("--outage", type=float, default=30.0, help="c: seconds the store is down (default 30)")
    parser.add_argument("--store-group-timing", default="300000,10000,3000",
                        help="c: group timing as --group-timing (default scicow's own: 300000,10000,3000)")
    parser.add_argument("--device-scans", type=int, default=20, help="d: scans captured (default 20)")
    parser.add_argument("--spool-limit", type=int, default=256 * 1024, help="e: RLIMIT_FSIZE in bytes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="log progress")
    parser.add_argument("--strict", action="store_true",
                        help="a: count what the killed (in-memory) broker held as lost too")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    logging.getLogger("scifish").setLevel(logging.ERROR)
    if args.verbose:
        logger.setLevel(logging.INFO)
    work = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    print(f"work folder {work}", flush=True)
    rows: list[Row] = []
    with EmbeddedMongo(work / "store") as mongo, EmbeddedKafka() as kafka:
        plan: dict[str, Callable[[], Row]] = {
            "a": lambda: broker_kill(work, scans=args.scans, down_s=args.broker_down, interval_s=args.interval,
                                     send_timeout_s=args.send_timeout, seed=args.seed, mongo=mongo),
            "b": lambda: scicow_kills(work, messages=args.messages, kills=args.kills, seed=args.seed + 1,
                                      batch_max=args.batch_max, group_timing=_timing(args.group_timing),
                                      kafka=kafka, mongo=mongo),
            "c": lambda: store_outage(work, messages=args.store_messages, outage_s=args.outage,
                                      group_timing=_timing(args.store_group_timing), kafka=kafka),
            "d": lambda: misbehaving_devices(work, scans=args.device_scans, kafka=kafka, mongo=mongo),
            "e": lambda: full_spool_disk(work, limit_bytes=args.spool_limit, mongo=mongo),
        }
        for key in args.only:
            t = time.monotonic()
            row = plan[key]()
            if args.strict:
                row.lost += row.broker_lost
                row.broker_lost = 0
            rows.append(row)
            print(f"{row.scenario}: {'ok' if row.ok else 'FAILED'} ({time.monotonic() - t:.0f} s)", flush=True)
    print_table(rows)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Hostile input: bad messages of many kinds interleaved with good ones, through the real scicow.

Every bad record must end on ``<prefix>-deadletter`` with a reason (one dead letter per bad
record, pointing at its topic, partition and offset), or in the quarantine for an unknown
proposal; every good one must be ingested once; no good one may be dead-lettered. The good
ones' throughput is compared with a clean run of the same good messages in the same
benchmark (same broker, same store, same settings): the aim is within 2x.

Throughput is timed as in bench_ingest.py: from the first committed batch to the batch that
completes the good messages, the first batch's own good messages left out.

Run: .venv/bin/python bench/bench_hostile.py [--good 10000] [--bad 10000] [--huge 50]
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bench_faults import SCICOW_GROUP_DEFAULTS, fresh_db, make_message, scicow_settings, tally
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from pymongo import MongoClient
from pymongo.database import Database

from scicow import BatchResult, ScicowSettings, run
from scizoo.core import QUARANTINE_COLLECTION, ScanMetadata, beamline_topic, dead_letter_topic
from scizoo.testing import EmbeddedKafka, EmbeddedMongo

logger = logging.getLogger("bench_hostile")

#: A record of this size is near Kafka's default 1 MB limit (and is not JSON).
HUGE_GARBAGE = 900_000


def _good_json(n: int, prefix: str) -> dict[str, Any]:
    return json.loads(make_message(n, prefix, entries=3).model_dump_json())


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def _with(n: int, prefix: str, change: Callable[[dict[str, Any]], None]) -> bytes:
    doc = _good_json(n, prefix)
    change(doc)
    return _dumps(doc)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = doc
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[last] = value
    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = doc
        for key in parents:
            target = target[key]
        del target[last]
    return change


# kind -> (what becomes of it, the record's value for bad message n). "dead": a dead letter;
# "quarantine": kept until its proposal is known. The n-th bad message of a kind gets the
# message id "<prefix>-bad-<n>", so none collides with a good one.
Kind = tuple[str, Callable[[int, str], bytes | None]]
KINDS: dict[str, Kind] = {
    "not JSON": ("dead", lambda n, p: b"\xff\xfe not json at all " + str(n).encode()),
    "JSON, not an object": ("dead", lambda n, p: _dumps([n, "scan", None])),
    "empty value": ("dead", lambda n, p: b""),
    "null value (tombstone)": ("dead", lambda n, p: None),
    "truncated JSON": ("dead", lambda n, p: _dumps(_good_json(n, p + "-bad"))[:-7]),
    "invalid UTF-8": ("dead", lambda n, p: _dumps(_good_json(n, p + "-bad")).replace(b"ascan", b"asc\xff\xfean", 1)),
    "lone surrogate escape": ("dead", lambda n, p: _dumps(_good_json(n, p + "-bad")).replace(b"ascan", b"\\ud800", 1)),
    "nested 3000 deep": ("dead", lambda n, p: _dumps(_good_json(n, p + "-bad")).replace(
        b'"value": ', b'"value": ' + b"[" * 3000 + b"0" + b"]" * 3000 + b', "x": ', 1)),
    "wrong schema version": ("dead", lambda n, p: _with(n, p + "-bad", _set("schema_version", "2"))),
    "missing field (scan)": ("dead", lambda n, p: _with(n, p + "-bad", _drop("scan"))),
    "missing field (message_id)": ("dead", lambda n, p: _with(n, p + "-bad", _drop("message_id"))),
    "unknown field": ("dead", lambda n, p: _with(n, p + "-bad", _set("surprise", True))),
    "wrong type (points a string)": ("dead", lambda n, p: _with(n, p + "-bad", _set("scan.points", "eleven"))),
    "wrong type (entries an object)": ("dead", lambda n, p: _with(n, p + "-bad", _set("entries", {"a": 1}))),
    "negative file size": ("dead", lambda n, p: _with(n, p + "-bad", _set("scan.files.0.size", -1))),
    "invalid beamline name": ("dead", lambda n, p: _with(n, p + "-bad", _set("beamline", "beam line!"))),
    "naive datetime (produced_at)": ("dead", lambda n, p: _with(n, p + "-bad", _set("produced_at", "2026-11-20T12:00:00"))),
    "naive datetime (scan.start)": ("dead", lambda n, p: _with(n, p + "-bad", _set("scan.start", "2026-11-20T11:59:30"))),
    "datetime out of range": ("dead", lambda n, p: _with(n, p + "-bad", _set("produced_at", "10000-01-01T00:00:00Z"))),
    "integer beyond 64 bits": ("dead", lambda n, p: _with(n, p + "-bad", _set("entries.0.value", 2**70 + n))),
    "NUL in a key": ("dead", lambda n, p: _with(n, p + "-bad", _set("entries.0.value", {"a\x00b": n}))),
    "unknown proposal": ("quarantine", lambda n, p: _with(n, p + "-bad", _set("proposal_id", f"2999{n % 500:04d}"))),
}
#: Few of these: each is hundreds of kB.
HUGE_KINDS: dict[str, Kind] = {
    "huge string (300 kB message_id)": ("dead", lambda n, p: _with(n, p + "-bad", _set("message_id", "M" * 300_000))),
    "huge garbage (900 kB, not JSON)": ("dead", lambda n, p: b"{" + b"x" * HUGE_GARBAGE),
}


@dataclass
class Sent:
    """What was put on the topic: where each record is, and what it is."""

    good: dict[str, tuple[int, int]] = field(default_factory=dict)  # message id -> (partition, offset)
    bad: dict[tuple[int, int], str] = field(default_factory=dict)  # (partition, offset) -> kind
    quarantine: dict[str, str] = field(default_factory=dict)  # message id -> kind


def build(prefix: str, good: int, bad: int, huge: int, seed: int) -> list[tuple[str, str, bytes | None]]:
    """(kind or "good", key, value) for every record, good and bad interleaved at random."""
    rng = random.Random(seed)
    items: list[tuple[str, str, bytes | None]] = [
        ("good", f"sim/{n}", make_message(n, prefix, entries=20).model_dump_json().encode()) for n in range(good)]
    names = list(KINDS)
    for n in range(bad - huge):
        kind = names[n % len(names)]
        items.append((kind, f"sim/bad-{n}", KINDS[kind][1](n, prefix)))
    huge_names = list(HUGE_KINDS)
    for n in range(bad - huge, bad):
        kind = huge_names[n % len(huge_names)]
        items.append((kind, f"sim/bad-{n}", HUGE_KINDS[kind][1](n, prefix)))
    rng.shuffle(items)
    return items


def produce(bootstrap: str, prefix: str, items: list[tuple[str, str, bytes | None]]) -> Sent:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=2_000_000)
    topic = beamline_topic(prefix, "sim")
    futures = [(kind, value, producer.send(topic, key=key.encode(), value=value)) for kind, key, value in items]
    producer.flush()
    sent = Sent()
    for kind, value, future in futures:
        meta = future.get(timeout=30)
        if kind == "good":
            sent.good[ScanMetadata.model_validate_json(value or b"").message_id] = (meta.partition, meta.offset)
        elif (KINDS.get(kind) or HUGE_KINDS[kind])[0] == "quarantine":
            sent.quarantine[json.loads(value or b"")["message_id"]] = kind
        else:
            sent.bad[(meta.partition, meta.offset)] = kind
    producer.close()
    return sent


@dataclass
class Timed:
    rate: float
    elapsed: float
    dead_letters: int
    quarantined: int
    error: BaseException | None


def ingest(settings: ScicowSettings, good: int, dead: int, quarantined: int, timeout_s: float) -> Timed:
    """Run scicow until it has ingested ``good`` and set aside ``dead`` + ``quarantined``."""
    stop = threading.Event()
    stamps: list[float] = []
    counts = Counter[str]()
    first_batch_good = [0]
    errors: list[BaseException] = []

    def on_batch(result: BatchResult) -> None:
        now = time.perf_counter()
        if not stamps:
            stamps.append(now)
            first_batch_good[0] = len(result.ingested)
        counts["good"] += len(result.ingested)
        counts["dead"] += len(result.dead_letters)
        counts["quarantined"] += len(result.quarantined)
        if counts["good"] >= good and len(stamps) == 1:
            stamps.append(now)
        if counts["good"] >= good and counts["dead"] >= dead and counts["quarantined"] >= quarantined:
            stop.set()

    def target() -> None:
        try:
            run(settings, stop, on_batch=on_batch)
        except BaseException as err:  # noqa: BLE001 - reported
            errors.append(err)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout_s)
    stop.set()
    thread.join(60)
    if len(stamps) < 2:
        return Timed(0.0, 0.0, counts["dead"], counts["quarantined"], errors[0] if errors else None)
    elapsed = stamps[1] - stamps[0]
    return Timed((good - first_batch_good[0]) / elapsed if elapsed > 0 else float("inf"), elapsed,
                 counts["dead"], counts["quarantined"], errors[0] if errors else None)


def read_dead_letters(bootstrap: str, topic: str, expected: int, timeout_s: float = 120.0) -> list[dict[str, Any]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=4_000_000)
    values: list[bytes] = []
    try:
        deadline = time.monotonic() + timeout_s
        parts = None
        while time.monotonic() < deadline and not parts:
            parts = consumer.partitions_for_topic(topic)
            time.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in parts or ()]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        while time.monotonic() < deadline and len(values) < expected:
            for recs in consumer.poll(timeout_ms=500).values():
                values.extend(r.value for r in recs)
        for recs in consumer.poll(timeout_ms=1000).values():  # more than expected is a failure to see
            values.extend(r.value for r in recs)
    finally:
        consumer.close()
    return [json.loads(v) for v in values]


@dataclass
class Check:
    good_sent: int
    good_found: int
    duplicates: int
    lost: int
    bad_sent: int
    dead_lettered: int
    without_reason: int
    missing_letters: int
    extra_letters: int
    good_dead_lettered: int
    quarantine_sent: int
    quarantined: int
    per_kind: dict[str, tuple[int, int, str]]  # kind -> (sent, dead-lettered, a reason)

    @property
    def ok(self) -> bool:
        return (self.lost == 0 and self.duplicates == 0 and self.good_found == self.good_sent
                and self.missing_letters == 0 and self.extra_letters == 0 and self.without_reason == 0
                and self.good_dead_lettered == 0 and self.quarantined == self.quarantine_sent)


def check(db: Database[dict[str, Any]], bootstrap: str, prefix: str, sent: Sent) -> Check:
    result = tally(db, set(sent.good))
    letters = read_dead_letters(bootstrap, dead_letter_topic(prefix), len(sent.bad))
    topic = beamline_topic(prefix, "sim")
    by_place = Counter((d["partition"], d["offset"]) for d in letters if d["topic"] == topic)
    good_places = set(sent.good.values())
    per_kind: dict[str, list[Any]] = {}
    for place, kind in sent.bad.items():
        entry = per_kind.setdefault(kind, [0, 0, ""])
        entry[0] += 1
        entry[1] += min(1, by_place.get(place, 0))
    for d in letters:
        kind = sent.bad.get((d["partition"], d["offset"]))
        if kind and not per_kind[kind][2]:
            per_kind[kind][2] = d["reason"]
        if kind == "huge garbage (900 kB, not JSON)":
            assert d["original_truncated"] and base64.b64decode(d["original_b64"])[:1] == b"{"
    quarantined = db[QUARANTINE_COLLECTION].count_documents({"_id": {"$in": list(sent.quarantine)}})
    return Check(
        good_sent=len(sent.good), good_found=result.found, duplicates=result.duplicates, lost=result.lost,
        bad_sent=len(sent.bad), dead_lettered=sum(1 for p in sent.bad if by_place.get(p)),
        without_reason=sum(1 for d in letters if not d.get("reason")),
        missing_letters=sum(1 for p in sent.bad if not by_place.get(p)),
        extra_letters=sum(n - 1 for n in by_place.values() if n > 1) + sum(1 for d in letters if d["topic"] != topic),
        good_dead_lettered=sum(1 for p in by_place if p in good_places),
        quarantine_sent=len(sent.quarantine), quarantined=quarantined,
        per_kind={k: (v[0], v[1], v[2]) for k, v in per_kind.items()},
    )


@dataclass
class Outcome:
    clean: Timed
    hostile: Timed
    check: Check
    clean_found: int
    clean_duplicates: int

    @property
    def ratio(self) -> float:
        return self.clean.rate / self.hostile.rate if self.hostile.rate else float("inf")


def hostile_run(bootstrap: str, mongo_uri: str, *, good: int = 10_000, bad: int = 10_000, huge: int = 50,
                seed: int = 7, timeout_s: float = 900.0, tag: str = "", **settings: Any) -> Outcome:
    """The clean run, then the hostile run, on fresh prefixes and databases (scicow's own
    group timing unless ``settings`` say otherwise: no member joins or leaves here)."""
    settings = {**SCICOW_GROUP_DEFAULTS, **settings}
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True)
    try:
        clean_prefix, hostile_prefix = f"clean{tag}", f"hostile{tag}"
        clean_db, hostile_db = fresh_db(client, clean_prefix), fresh_db(client, hostile_prefix)
        goods = build(clean_prefix, good, 0, 0, seed)
        produce(bootstrap, clean_prefix, goods)
        items = build(hostile_prefix, good, bad, min(huge, bad), seed)
        sent = produce(bootstrap, hostile_prefix, items)
        logger.info("on the topics: %d clean, %d hostile records", len(goods), len(items))
        clean = ingest(scicow_settings(bootstrap, mongo_uri, clean_prefix, **settings), good, 0, 0, timeout_s)
        logger.info("clean run: %.0f msgs/s", clean.rate)
        hostile = ingest(scicow_settings(bootstrap, mongo_uri, hostile_prefix, **settings), good, len(sent.bad),
                         len(sent.quarantine), timeout_s)
        logger.info("hostile run: %.0f msgs/s", hostile.rate)
        clean_found = tally(clean_db, {f"{clean_prefix}-{n}" for n in range(good)})
        return Outcome(clean, hostile, check(hostile_db, bootstrap, hostile_prefix, sent),
                       clean_found.found, clean_found.duplicates)
    finally:
        client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--good", type=int, default=10_000, help="good messages (default 10000)")
    parser.add_argument("--bad", type=int, default=10_000, help="bad messages (default 10000)")
    parser.add_argument("--huge", type=int, default=50, help="of the bad, how many are hundreds of kB (default 50)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    # Every dead letter is logged at WARNING by scicow: 10,000 lines say nothing here.
    logging.getLogger("scicow").setLevel(logging.CRITICAL)
    if args.verbose:
        logger.setLevel(logging.INFO)
    work = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    with EmbeddedKafka() as kafka, EmbeddedMongo(work / "store") as mongo:
        out = hostile_run(kafka.bootstrap_servers, mongo.uri, good=args.good, bad=args.bad, huge=args.huge,
                          seed=args.seed)
    c = out.check
    print(f"{args.good} good messages (20 entries, ~{len(make_message(0, 'x', entries=20).model_dump_json()) // 1000} kB)"
          f" and {args.bad} bad ones ({args.huge} of them hundreds of kB), interleaved at random")
    print(f"\n{'kind':<36} {'sent':>6} {'set aside':>9}  reason (first)")
    for kind, (n, dead, reason) in sorted(c.per_kind.items()):
        print(f"{kind:<36} {n:>6} {dead:>9}  {reason[:90]}")
    print(f"{'unknown proposal (quarantine)':<36} {c.quarantine_sent:>6} {c.quarantined:>9}  quarantined")
    print(f"\ngood: sent {c.good_sent}, found {c.good_found}, duplicates {c.duplicates}, lost {c.lost}, "
          f"dead-lettered {c.good_dead_lettered}")
    print(f"bad: sent {c.bad_sent}, dead-lettered {c.dead_lettered}, missing {c.missing_letters}, "
          f"extra {c.extra_letters}, without a reason {c.without_reason}; quarantined {c.quarantined} of "
          f"{c.quarantine_sent}")
    for label, t in (("clean", out.clean), ("hostile", out.hostile)):
        error = f", scicow ended with {t.error!r}" if t.error else ""
        print(f"{label + ' run:':<14} good messages {t.rate:7.0f} msgs/s ({t.elapsed:.1f} s){error}")
    print(f"clean run: found {out.clean_found} of {args.good}, duplicates {out.clean_duplicates}")
    print(f"ratio clean/hostile: {out.ratio:.2f}x (aim: within 2x: {'met' if out.ratio <= 2.0 else 'NOT met'})")
    ok = (c.ok and out.clean_found == args.good and out.clean_duplicates == 0
          and not out.clean.error and not out.hostile.error)
    print("ok: every bad one set aside with a reason, every good one ingested once" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

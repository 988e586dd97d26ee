"""Ingestion benchmark: messages/s from Kafka into the store, in one run.

- ceiling: the store's raw insert_many of the same Dataset documents (batches of 500);
- naive: a consumer that validates, builds, insert_one's and commits each message;
- scicow: the real consumer (batches, bulk upserts, commit per batch).
Both consumers read the same topic from tansu into SecantusDB, both started as separate
processes by scizoo's embedded module. Timed from the first write to the last.

Run: .venv/bin/python bench/bench_ingest.py [messages]
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta

from kafka import KafkaConsumer, KafkaProducer
from pymongo import MongoClient

from scicow import ScicowSettings, run
from scizoo.core import (
    CatalogueSettings,
    DataFile,
    Proposal,
    RecordedEntry,
    ScanBlock,
    ScanMetadata,
    beamline_topic,
    build_dataset,
    topic_pattern,
)
from scizoo.testing import EmbeddedKafka, EmbeddedMongo

PROPOSAL = {"_id": "20240001", "proposalId": "20240001", "pi_email": "pi@example.org", "ownerGroup": "20240001"}


def make_messages(n: int) -> list[ScanMetadata]:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        end = t0 + timedelta(seconds=30 * i)
        entries = [
            RecordedEntry(name=f"sample_motor_{k}", group="sample", device=f"bl/mot/{k}", attribute="position",
                          value=0.1 * i + k, raw_value=0.1 * i + k, unit="mm", quality="ATTR_VALID", read_time=end)
            for k in range(20)
        ]
        out.append(ScanMetadata(
            message_id=f"bench-{i}", beamline="bench", source="manual", proposal_id="20240001",
            data_path="/data/bench/20240001/raw",
            scan=ScanBlock(id=str(i), title=f"ascan {i}", start=end - timedelta(seconds=20), end=end, points=11,
                           files=[DataFile(path=f"/data/bench/scan_{i}.h5", size=1024)]),
            entries=entries, produced_at=end))
    return out


def ceiling(client: MongoClient, messages: list[ScanMetadata]) -> float:
    proposal = Proposal.from_document(PROPOSAL)
    docs = [build_dataset(m, proposal, CatalogueSettings()).to_mongo() for m in messages]
    coll = client["bench_ceiling"]["Dataset"]
    t = time.perf_counter()
    for i in range(0, len(docs), 500):
        coll.insert_many(docs[i : i + 500])
    return len(docs) / (time.perf_counter() - t)


def naive(bootstrap: str, client: MongoClient, prefix: str, n: int) -> float:
    db = client["bench_naive"]
    db["Proposal"].insert_one(dict(PROPOSAL))
    coll = db["Dataset"]
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id="naive", enable_auto_commit=False,
                             auto_offset_reset="earliest", max_poll_interval_ms=3000, session_timeout_ms=6000,
                             heartbeat_interval_ms=1000)
    consumer.subscribe(pattern=topic_pattern(prefix))
    done, first = 0, None
    while done < n:
        for recs in consumer.poll(timeout_ms=200, max_records=1).values():
            for rec in recs:
                first = first or time.perf_counter()
                message = ScanMetadata.model_validate_json(rec.value)
                proposal = Proposal.from_document(db["Proposal"].find_one({"_id": message.proposal_id}))
                coll.insert_one(build_dataset(message, proposal, CatalogueSettings()).to_mongo())
                consumer.commit()
                done += 1
    elapsed = time.perf_counter() - first
    consumer.close()
    return n / elapsed


def scicow_rate(bootstrap: str, mongo_uri: str, client: MongoClient, prefix: str, n: int) -> float:
    client["bench_scicow"]["Proposal"].insert_one(dict(PROPOSAL))
    settings = ScicowSettings(kafka_bootstrap=bootstrap, topic_prefix=prefix, group_id="scicow-bench",
                              mongo_uri=mongo_uri, database="bench_scicow", max_poll_interval_ms=3000,
                              session_timeout_ms=6000, heartbeat_interval_ms=1000, batch_max=500)
    stop = threading.Event()
    stamps: list[float] = []
    counted = [0]

    def on_batch(result) -> None:
        if not stamps:
            stamps.append(time.perf_counter())
        counted[0] += len(result.ingested)
        if counted[0] >= n:
            stamps.append(time.perf_counter())
            stop.set()

    thread = threading.Thread(target=run, args=(settings, stop), kwargs={"on_batch": on_batch})
    thread.start()
    thread.join()
    # The first batch's own time is inside neither stamp; count only what came after it.
    first_batch = min(n, settings.batch_max)
    return (n - first_batch) / (stamps[1] - stamps[0])


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    messages = make_messages(n)
    with EmbeddedKafka() as kafka, EmbeddedMongo(tempfile.mkdtemp(prefix="bench-store-")) as mongo:
        client: MongoClient = MongoClient(mongo.uri, tz_aware=True)
        prefix = "bench"
        producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all", linger_ms=5)
        for m in messages:
            producer.send(beamline_topic(prefix, m.beamline), key=m.message_id.encode(),
                          value=m.model_dump_json().encode())
        producer.flush()
        producer.close()
        print(f"{n} scan messages (20 entries each, ~{len(messages[0].model_dump_json()) // 1000} kB) on tansu")
        top = ceiling(client, messages)
        print(f"  store ceiling (insert_many x500): {top:8.0f} docs/s")
        slow = naive(kafka.bootstrap_servers, client, prefix, n)
        print(f"  naive consumer (insert_one+commit each): {slow:8.0f} msgs/s")
        fast = scicow_rate(kafka.bootstrap_servers, mongo.uri, client, prefix, n)
        print(f"  scicow (bulk upsert, commit per batch):  {fast:8.0f} msgs/s")
        print(f"  scicow = {fast / slow:.1f}x naive, {100 * fast / top:.0f}% of the store's ceiling")
        client.close()


if __name__ == "__main__":
    main()

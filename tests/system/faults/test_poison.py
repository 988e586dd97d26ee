"""Poison records never stall ingestion: each is set aside with its reason, the rest go on.

Real broker, real store, a real HTTP user office that answers nonsense. Before the fix,
each of these records made scicow retry its batch forever.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer

import pytest
from kafka import KafkaProducer

from scicow import run
from scizoo.core import (
    DATASET_COLLECTION,
    QUARANTINE_COLLECTION,
    RecordedEntry,
    ScanMetadata,
    beamline_topic,
    dead_letter_topic,
    events_topic,
)
from scizoo.testing import JsonHandler
from tests.helpers import make_scan, read_topic, wait_for

pytestmark = pytest.mark.system


def _message(n: int, *, value: object = 1.0, proposal: str = "20240001") -> ScanMetadata:
    return ScanMetadata(
        message_id=f"poison-{n}", beamline="sim", source="manual", proposal_id=proposal, data_path="/data/sim",
        scan=make_scan(n), produced_at=datetime(2026, 11, 20, 13, 0, tzinfo=UTC),
        entries=[RecordedEntry(name="x", device="d/x/1", attribute="v", value=value, raw_value=value)],
    )


@pytest.fixture()
def nonsense_office() -> Iterator[str]:
    """A user office that answers 200 with JSON that is not a proposal."""

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            self.reply(200, ["not", "a", "proposal"])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_poison_records_are_set_aside_and_the_rest_flows(kafka, scicow_settings, db, prefix, nonsense_office) -> None:
    settings = scicow_settings.model_copy(update={"user_office_url": nonsense_office})
    topic = beamline_topic(prefix, "sim")
    huge_garbage = b"{" + b"x" * 900_000  # a record near Kafka's size limit, and not JSON
    def poison(n: int) -> dict[str, bytes]:
        return {
            "int": _message(1000 + n, value=2**70).model_dump_json().encode(),  # beyond BSON's 64 bits
            "nul": _message(2000 + n, value={"a\x00b": 1}).model_dump_json().encode(),  # a key BSON will not hold
            "huge": huge_garbage,
        }

    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all", max_request_size=2_000_000)
    for n in range(30):
        producer.send(topic, key=f"sim/{n}".encode(), value=_message(n).model_dump_json().encode())
        if n % 10 == 5:
            for name, value in poison(n).items():
                producer.send(topic, key=f"sim/{name}{n}".encode(), value=value)
    producer.send(topic, key=b"sim/odd", value=_message(200, proposal="29990009").model_dump_json().encode())
    producer.flush()
    producer.close()

    stop = threading.Event()
    consumer = threading.Thread(target=run, args=(settings, stop), daemon=True)
    consumer.start()
    try:
        datasets = db[DATASET_COLLECTION]
        wait_for(lambda: datasets.count_documents({}) == 30, timeout=90, what="all 30 good scans")
        letters = [json.loads(v) for v in read_topic(kafka.bootstrap_servers, dead_letter_topic(prefix), 9)]
        wait_for(lambda: db[QUARANTINE_COLLECTION].count_documents({}) == 1, what="the nonsense answer's quarantine")
    finally:
        stop.set()
        consumer.join(30)
    assert len(letters) == 9, [d["reason"] for d in letters]
    reasons = [d["reason"] for d in letters]
    assert sum("8-byte" in r for r in reasons) == 3, reasons
    assert sum("NULL byte" in r for r in reasons) == 3, reasons
    truncated = [d for d in letters if d["original_truncated"]]
    assert len(truncated) == 3 and all(d["original_size"] == len(huge_garbage) for d in truncated)
    assert all(base64.b64decode(d["original_b64"]) == huge_garbage[: len(base64.b64decode(d["original_b64"]))]
               for d in truncated)
    assert all(d["topic"] == topic and d["offset"] >= 0 for d in letters)  # each points at its original
    quarantined = db[QUARANTINE_COLLECTION].find_one()
    assert "not an object" in quarantined["reason"]
    assert datasets.count_documents({"_id": {"$regex": "."}, "scientificMetadata.x.value": 1.0}) == 30
    # Every good scan's "ingested" event is on the events topic, which scicow created.
    events = read_topic(kafka.bootstrap_servers, events_topic(prefix), 30)
    assert len({json.loads(e)["pid"] for e in events}) == 30


def test_an_unforeseen_permanent_failure_is_isolated_to_its_record(kafka, scicow_settings, db, prefix) -> None:
    """The generic net under the specific fixes: a batch that fails for a reason that is not a
    service being away is taken record by record; the one that still fails is dead-lettered."""
    from pymongo.errors import AutoReconnect

    from scicow import CatalogueWriter, RawRecord, make_ingestor

    class Brittle(CatalogueWriter):
        """The real writer, except that it cannot write scan 13 (as some future bug might)."""

        def write(self, writes):
            if any(w.message.message_id == "poison-13" for w in writes):
                raise ValueError("no writer can take scan 13")
            if any(w.message.message_id == "poison-14" for w in writes):
                raise AutoReconnect("the store went away")
            return super().write(writes)

    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    ingestor = make_ingestor(scicow_settings, db, producer)
    ingestor.writer = Brittle(db)
    records = [RawRecord(beamline_topic(prefix, "sim"), 0, n, None, _message(n).model_dump_json().encode())
               for n in (12, 13, 15)]
    try:
        with pytest.raises(ValueError, match="scan 13"):
            ingestor.handle(records)  # the whole batch fails as it stands
        result = ingestor.handle_one_by_one(records)
        with pytest.raises(AutoReconnect):  # a service away is never set aside: the batch is retried
            ingestor.handle_one_by_one([RawRecord("t", 0, 1, None, _message(14).model_dump_json().encode())])
    finally:
        producer.close()
    assert len(result.ingested) == 2 and db[DATASET_COLLECTION].count_documents({}) == 2
    [letter] = [json.loads(v) for v in read_topic(kafka.bootstrap_servers, dead_letter_topic(prefix), 1)]
    assert letter["offset"] == 13 and "no writer can take scan 13" in letter["reason"]

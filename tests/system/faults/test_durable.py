"""Durable means durable (issue 18, section 4), on the real store and broker.

- a bulk write the store applied but could not make as durable as asked (its write
  concern not satisfied: SecantusDB answers ``w: 3`` with ``writeConcernErrors``, as a
  replica set with a member away answers a ``wtimeout``) is transient: retried, never read
  as done, never a dead letter;
- the quarantine's re-drive deletes only the entry it took (a newer message of the scan
  quarantined meanwhile stays), and an entry that no longer validates is dead-lettered
  while the others are ingested.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from kafka import KafkaProducer
from pymongo.errors import BulkWriteError
from pymongo.write_concern import WriteConcern

from scicow import CatalogueWriter, Ingestor, Lookup, RawRecord, is_transient, make_ingestor, plan
from scizoo.core import (
    DATASET_COLLECTION,
    PROPOSAL_COLLECTION,
    QUARANTINE_COLLECTION,
    CatalogueSettings,
    Proposal,
    ScanMetadata,
    beamline_topic,
    dead_letter_topic,
)
from tests.helpers import PID_PREFIX, make_scan, read_topic

pytestmark = pytest.mark.system
T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
CATALOGUE = CatalogueSettings(pid_prefix=PID_PREFIX)


def _message(n: int, *, minutes: int = 0, proposal: str = "20240001") -> ScanMetadata:
    return ScanMetadata(message_id=f"durable-{n}", beamline="sim", source="manual", proposal_id=proposal,
                        data_path="/data/sim", scan=make_scan(n), produced_at=T0 + timedelta(minutes=minutes))


def _writes(*messages: ScanMetadata):  # type: ignore[no-untyped-def]
    return plan(messages, lambda p: Lookup(Proposal(proposalId=p, ownerGroup=p)), CATALOGUE).writes


@pytest.fixture()
def ingestor(kafka, scicow_settings, db) -> Iterator[Ingestor]:
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    try:
        yield make_ingestor(scicow_settings, db, producer)
    finally:
        producer.close()


def test_a_write_concern_not_satisfied_is_retried_never_done(db, ingestor: Ingestor, prefix: str) -> None:
    unsatisfiable = CatalogueWriter(db, WriteConcern(w=3))  # one data-bearing node: never three
    # A stored scan (and its beamline's Instrument, which the writer makes first if absent).
    assert CatalogueWriter(db).write(_writes(_message(2))) == []
    # New scans: the insert path. Before the fix the error was read as "nothing already there"
    # and the batch counted as durable.
    with pytest.raises(BulkWriteError) as raised:
        unsatisfiable.write(_writes(_message(1)))
    assert is_transient(raised.value)
    # A later message of the stored scan: the update path (before the fix: a dead letter).
    with pytest.raises(BulkWriteError) as raised:
        unsatisfiable.write(_writes(_message(2, minutes=5)))
    assert is_transient(raised.value)
    # Through the ingestor, batch and record by record: raised for a retry, never set aside.
    ingestor.writer = unsatisfiable
    record = RawRecord(beamline_topic(prefix, "sim"), 0, 7, None, _message(2, minutes=9).model_dump_json().encode())
    with pytest.raises(BulkWriteError):
        ingestor.handle([record])
    with pytest.raises(BulkWriteError):
        ingestor.handle_one_by_one([record])
    # With the write concern the store can meet, the same record is ingested.
    ingestor.writer = CatalogueWriter(db)
    assert len(ingestor.handle([record]).ingested) == 1
    assert db[DATASET_COLLECTION].count_documents({}) == 2  # the first scan too: inserted, if not durably


def test_release_keeps_a_newer_message_quarantined_meanwhile(db) -> None:
    writer = CatalogueWriter(db)
    quarantine = db[QUARANTINE_COLLECTION]
    old, new = _message(3, proposal="29990003"), _message(3, minutes=1, proposal="29990003")
    writer.quarantine_message(old, "proposal '29990003' is not in the catalogue", T0)
    [taken] = writer.quarantined_messages(["29990003"])  # a re-drive reads the entry ...
    writer.quarantine_message(new, "proposal '29990003' is not in the catalogue", T0)  # ... a re-capture lands
    writer.release([ScanMetadata.model_validate_json(taken.message)])  # ... the re-drive ingested the old one
    kept = quarantine.find_one({"_id": "durable-3"})
    assert kept is not None and ScanMetadata.model_validate_json(kept["message"]) == new
    # An older message arriving after a newer one never replaces it in quarantine either.
    writer.quarantine_message(old, "proposal '29990003' is not in the catalogue", T0)
    kept = quarantine.find_one({"_id": "durable-3"})
    assert ScanMetadata.model_validate_json(kept["message"]) == new and kept["attempts"] == 3
    writer.release([new])
    assert quarantine.count_documents({}) == 0


def test_one_entry_that_no_longer_validates_does_not_stop_the_redrive(db, ingestor: Ingestor, kafka,
                                                                      prefix: str) -> None:
    quarantine = db[QUARANTINE_COLLECTION]
    for n in (4, 5):
        ingestor.writer.quarantine_message(_message(n, proposal="29990004"), "unknown proposal", T0)
    # Kept by an older version, or edited by hand: no longer a scan message.
    quarantine.insert_one({"_id": "durable-bad", "proposal_id": "29990004", "message": '{"message_id": "x"}',
                           "reason": "unknown proposal"})
    db[PROPOSAL_COLLECTION].insert_one({"_id": "29990004", "proposalId": "29990004", "ownerGroup": "29990004"})

    result = ingestor.redrive_quarantine()

    assert len(result.ingested) == 2 and db[DATASET_COLLECTION].count_documents({"proposalIds": "29990004"}) == 2
    [letter] = [json.loads(v) for v in read_topic(kafka.bootstrap_servers, dead_letter_topic(prefix), 1)]
    assert letter["key"] == "durable-bad" and "no longer valid" in letter["reason"]
    assert quarantine.count_documents({}) == 0


def _at_once(calls: list[Callable[[], object]]) -> None:
    """Run the calls in threads that start together (the races two scicow members or threads run)."""
    barrier = threading.Barrier(len(calls))
    failures: list[BaseException] = []

    def call(f: Callable[[], object]) -> None:
        barrier.wait()
        try:
            f()
        except BaseException as err:  # noqa: BLE001 - reported by the test below
            failures.append(err)

    threads = [threading.Thread(target=call, args=(f,)) for f in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not failures, failures


def test_threads_sending_through_one_outbox_replace_its_failed_producer_once(kafka, scicow_settings, db,
                                                                              prefix: str) -> None:
    """The writer thread and the quarantine re-drive send through one Outbox. After its producer
    failed, both sending at once get one new producer between them; before the fix each opened
    its own, and one was leaked (never closed, its connections and thread kept for ever)."""
    opened: list[KafkaProducer] = []

    def reopen() -> KafkaProducer:
        time.sleep(0.5)  # connecting takes a while: the window in which the other thread arrives
        producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
        opened.append(producer)
        return producer

    failed = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    outbox = make_ingestor(scicow_settings, db, failed, reopen=reopen).outbox
    topic = dead_letter_topic(prefix)
    try:
        failed.close()  # as a producer wedged after a broker restart: every send fails
        with pytest.raises(ConnectionError):  # BrokerAway: the batch is retried, with a new producer
            outbox.send([(topic, None, b"lost")])
        _at_once([lambda n=n: outbox.send([(topic, None, f"sent-{n}".encode())]) for n in range(2)])
        assert len(opened) == 1
        assert sorted(read_topic(kafka.bootstrap_servers, topic, 2)) == [b"sent-0", b"sent-1"]
    finally:
        outbox.close()
        for producer in opened:
            producer.close(timeout=1)

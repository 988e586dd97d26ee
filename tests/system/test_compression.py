"""Every record a Kafka producer may send is read: each codec Kafka defines, from a producer that
is not ours (librdkafka, through confluent-kafka), through the embedded broker (tansu) to scicow
and scireduce; a batch that still cannot be decoded is dead-lettered, never a stalled consumer; and a
consumer without a codec's library refuses to start, rather than set sound records aside.

The broker is asked for the raw batches (a Fetch request written here, byte by byte, after the
Kafka protocol) so that each test knows the codec really reached the consumer: librdkafka sends
a batch uncompressed when compressing would not make it smaller, and a broker may recompress.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka import Producer
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.record.util import calc_crc32c

from scifish import message_key
from scireduce import ScireduceSettings, run_worker
from scizoo.core import (
    DATASET_COLLECTION,
    JOB_COLLECTION,
    ORIG_DATABLOCK_COLLECTION,
    DatasetIngested,
    DeadLetter,
    ScanMetadata,
    beamline_topic,
    dataset_pid,
    dead_letter_topic,
    events_topic,
)
from scizoo.ops.kafka_records import undecodable
from tests.helpers import PID_PREFIX, make_scan, read_topic, wait_for

pytestmark = pytest.mark.system

#: Kafka's codec ids (the low three bits of a record batch's attributes) by compression.type.
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


# --- the Kafka protocol, as much as these tests need -------------------------------------------

def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack(">h", len(data)) + data


def _call(bootstrap: str, api_key: int, version: int, body: bytes) -> bytes:
    """One request (header v1) to the broker; the response body after its correlation id."""
    host, port = bootstrap.rsplit(":", 1)
    request = struct.pack(">hhi", api_key, version, 1) + _string("scizoo-test") + body
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(struct.pack(">i", len(request)) + request)
        size = struct.unpack(">i", _read(conn, 4))[0]
        return _read(conn, size)[4:]


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        assert chunk, "the broker closed the connection"
        data += chunk
    return data


def record_batch(payload: bytes, count: int, codec: int, base: int = 0) -> bytes:
    """A record batch (magic 2) whose records section is ``payload`` as given: not compressed here,
    so a test can send bytes that do not decode; its CRC is right, so only the codec can fail."""
    now = int(time.time() * 1000)
    # attributes, last offset delta, first and max timestamp, producer id and epoch, base sequence, count
    after_crc = struct.pack(">hiqqqhii", codec, count - 1, now, now, -1, -1, -1, count) + payload
    body = struct.pack(">ibI", -1, 2, calc_crc32c(after_crc)) + after_crc  # leader epoch, magic, crc
    return struct.pack(">qi", base, len(body)) + body


def produce_raw(bootstrap: str, topic: str, partition: int, batch: bytes) -> int:
    """Produce (v3, acks=all) one record batch as it is; the error code the broker answers."""
    body = struct.pack(">hhi", -1, -1, 10_000) + struct.pack(">i", 1) + _string(topic)
    body += struct.pack(">ii", 1, partition) + struct.pack(">i", len(batch)) + batch
    answer = _call(bootstrap, 0, 3, body)
    pos = 4 + 2 + struct.unpack_from(">h", answer, 4)[0] + 4  # topics count, topic name, partitions count
    return int(struct.unpack_from(">h", answer, pos + 4)[0])


def stored_codecs(bootstrap: str, topic: str, partition: int = 0) -> list[tuple[int, int]]:
    """(base offset, codec id) of each batch the broker serves for a partition (Fetch v4)."""
    body = struct.pack(">iiiib", -1, 1000, 1, 16 * 1024 * 1024, 0) + struct.pack(">i", 1) + _string(topic)
    body += struct.pack(">i", 1) + struct.pack(">iqi", partition, 0, 16 * 1024 * 1024)
    answer = _call(bootstrap, 1, 4, body)
    pos = 4 + 4  # throttle time, topics count
    pos += 2 + struct.unpack_from(">h", answer, pos)[0] + 4  # topic name, partitions count
    _, error, _, _ = struct.unpack_from(">ihqq", answer, pos)
    assert error == 0, f"fetch error {error}"
    pos += 4 + 2 + 8 + 8
    aborted = struct.unpack_from(">i", answer, pos)[0]
    pos += 4 + max(aborted, 0) * 16
    size = struct.unpack_from(">i", answer, pos)[0]
    records, pos, out = answer[pos + 4:pos + 4 + size], 0, []
    while pos + 12 <= len(records):
        base, length = struct.unpack_from(">qi", records, pos)
        if pos + 12 + length > len(records):
            break  # a partial batch at the end of the fetch
        attributes = struct.unpack_from(">h", records, pos + 12 + 4 + 1 + 4)[0]
        out.append((base, attributes & 0x07))
        pos += 12 + length
    return out


# --- helpers ------------------------------------------------------------------------------------

def _message(n: int, codec: str) -> ScanMetadata:
    return ScanMetadata(
        message_id=f"{codec}-{n}", beamline="sim", source="manual", proposal_id="20240001",
        data_path="/data/sim/20240001/raw/", scan=make_scan(n), produced_at=datetime(2026, 11, 20, 13, 0, tzinfo=UTC))


def _send(bootstrap: str, codec: str, topic: str, items: list[tuple[bytes, bytes]]) -> None:
    """Produce to partition 0 with librdkafka, compressed with ``codec``, and wait for every acknowledgement."""
    # linger: a few messages to a batch, as a facility's producers send them.
    producer = Producer({"bootstrap.servers": bootstrap, "compression.type": codec, "acks": "all", "linger.ms": 20})
    failures: list[object] = []
    for key, value in items:
        producer.produce(topic, key=key, value=value, partition=0,
                         on_delivery=lambda err, _msg: failures.append(err) if err else None)
    assert producer.flush(30) == 0 and not failures, f"librdkafka could not deliver: {failures}"


def _one_partition_topic(bootstrap: str, topic: str) -> None:
    """One partition, so that the batches are in one known order."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics({topic: {"num_partitions": 1, "replication_factor": 1}})
    finally:
        admin.close()


def _committed(bootstrap: str, group: str, tp: TopicPartition) -> int | None:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return consumer.committed(tp)
    finally:
        consumer.close()


# --- the tests ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("position", "codec", "name"), [(10, 4, "zstd"), (11, 4, "zstd"), (10, 6, "unknown codec 6")])
def test_the_batch_kafka_python_cannot_decode_is_found_from_the_error_it_raises(position: int, codec: int,
                                                                                 name: str) -> None:
    """No broker: kafka-python's own fetcher unpacks a batch of offsets 10 to 12 that does not decode
    (a corrupt zstd payload; a codec id Kafka does not define), read from ``position``. Pins what
    scicow reads of kafka-python's frames, so an upgrade that changes them fails here, at once."""
    from kafka.consumer.fetcher import Fetcher
    from kafka.record import MemoryRecords

    tp = TopicPartition("t", 3)
    records = Fetcher.PartitionRecords(position, tp, MemoryRecords(record_batch(b"garbage", 3, codec, 10)))
    with pytest.raises(Exception) as caught:
        records.take()
    bad = undecodable(caught.value)
    assert bad is not None and (bad.partition, bad.first, bad.after) == (tp, position, 13)
    assert bad.reason.startswith(f"records at offsets {position} to 12 of t[3], compressed with {name} in one batch")
    assert undecodable(ValueError("not from kafka-python")) is None


def test_scicow_ingests_scans_that_librdkafka_compressed_with_each_codec(kafka, scicow, db, prefix) -> None:
    topic = beamline_topic(prefix, "sim")
    _one_partition_topic(kafka.bootstrap_servers, topic)
    sent: dict[str, list[str]] = {}
    for codec in CODECS:
        messages = [_message(n, codec) for n in range(5)]
        _send(kafka.bootstrap_servers, codec, topic, [(message_key(m), m.model_dump_json().encode()) for m in messages])
        sent[codec] = [m.message_id for m in messages]
    # The broker took each codec and serves it as it was sent.
    assert {codec for _, codec in stored_codecs(kafka.bootstrap_servers, topic)} == set(CODECS.values())
    scicow()
    datasets = db[DATASET_COLLECTION]
    everything = [dataset_pid(i, PID_PREFIX) for ids in sent.values() for i in ids]
    wait_for(lambda: datasets.count_documents({"_id": {"$in": everything}}) == len(everything), timeout=90,
             what="a dataset for every message, whatever its codec")
    for codec, ids in sent.items():
        doc = datasets.find_one({"_id": dataset_pid(ids[3], PID_PREFIX)})
        assert doc is not None, codec
        assert doc["scientificMetadata"]["message_produced_at"]["value"] is not None
        assert db[ORIG_DATABLOCK_COLLECTION].count_documents({"datasetId": doc["_id"]}) == 1
    assert read_topic(kafka.bootstrap_servers, dead_letter_topic(prefix), 0, timeout=3) == []


def test_a_batch_that_cannot_be_decoded_is_dead_lettered_and_the_records_after_it_are_ingested(
    kafka, scicow, scicow_settings, db, prefix
) -> None:
    topic = beamline_topic(prefix, "sim")
    _one_partition_topic(kafka.bootstrap_servers, topic)
    before, after = _message(1, "plain"), _message(2, "plain")
    _send(kafka.bootstrap_servers, "none", topic, [(b"k", before.model_dump_json().encode())])
    # Two batches whose codec says gzip and zstd but whose bytes are not: a producer's bug, or a
    # broker that stores what it is given (tansu does; Apache Kafka decompresses to check).
    for codec in ("gzip", "zstd"):
        assert produce_raw(kafka.bootstrap_servers, topic, 0, record_batch(b"not compressed at all" * 4, 3,
                                                                         CODECS[codec])) == 0
    _send(kafka.bootstrap_servers, "none", topic, [(b"k", after.model_dump_json().encode())])
    batches = stored_codecs(kafka.bootstrap_servers, topic)
    assert [codec for _, codec in batches] == [0, 1, 4, 0]
    scicow()
    datasets = db[DATASET_COLLECTION]
    wait_for(lambda: datasets.count_documents({"_id": dataset_pid(after.message_id, PID_PREFIX)}) == 1, timeout=90,
             what="the scan sent after the undecodable batches")
    assert datasets.count_documents({"_id": dataset_pid(before.message_id, PID_PREFIX)}) == 1
    letters = [DeadLetter.model_validate_json(v)
               for v in read_topic(kafka.bootstrap_servers, dead_letter_topic(prefix), 2)]
    assert len(letters) == 2
    for letter, (base, codec) in zip(sorted(letters, key=lambda d: d.offset), batches[1:3], strict=True):
        name = next(n for n, c in CODECS.items() if c == codec)
        assert (letter.topic, letter.partition, letter.offset) == (topic, 0, base)
        assert f"offsets {base} to {base + 2}" in letter.reason and f"compressed with {name}" in letter.reason
    # The group moved past them: a restart reads neither again.
    wait_for(lambda: _committed(kafka.bootstrap_servers, scicow_settings.group_id, TopicPartition(topic, 0))
             == batches[3][0] + 1, timeout=30, what="the committed offset past the last record")


def _without_lz4(tmp_path) -> Path:
    """A directory that, first on PYTHONPATH, makes lz4's library fail to import (as on an install
    without kafka-python's codecs): what kafka-python then reports is its own."""
    blocked = tmp_path / "without-lz4" / "lz4"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text('raise ImportError("lz4 is not installed here")\n')
    return blocked.parent


def test_without_a_codecs_library_scicow_refuses_to_start_and_its_records_wait(
    kafka, mongo, scicow, scicow_settings, db, prefix, tmp_path
) -> None:
    """scicow where lz4's library cannot be imported ends at once, saying which codec and what to
    install, and commits nothing; started with the library, it ingests every record. Before the
    fix it only logged the missing codec, then dead-lettered each lz4 batch (without its records)
    and committed past it: a deployment mistake cost the scans for good."""
    topic = beamline_topic(prefix, "sim")
    _one_partition_topic(kafka.bootstrap_servers, topic)
    before, squeezed, after = _message(1, "plain"), _message(2, "lz4"), _message(3, "plain")
    for codec, message in (("none", before), ("lz4", squeezed), ("none", after)):
        _send(kafka.bootstrap_servers, codec, topic, [(message_key(message), message.model_dump_json().encode())])
    assert [codec for _, codec in stored_codecs(kafka.bootstrap_servers, topic)] == [0, 3, 0]
    env = {**os.environ, "PYTHONPATH": str(_without_lz4(tmp_path)), "SCICOW_KAFKA_BOOTSTRAP": kafka.bootstrap_servers,
           "SCICOW_TOPIC_PREFIX": prefix, "SCICOW_GROUP_ID": scicow_settings.group_id, "SCICOW_MONGO_URI": mongo.uri,
           "SCICOW_DATABASE": db.name, "SCICOW_PID_PREFIX": PID_PREFIX, "SCICOW_MAX_POLL_INTERVAL_MS": "3000",
           "SCICOW_SESSION_TIMEOUT_MS": "6000", "SCICOW_HEARTBEAT_INTERVAL_MS": "1000"}
    try:
        ended = subprocess.run([sys.executable, "-m", "scizoo.cli", "scicow", "run", "--no-verbose"], env=env, check=False,
                               capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("scicow without lz4's library started and kept running")
    assert ended.returncode != 0
    assert "cannot read records compressed with lz4" in ended.stderr and "Install scizoo[scicow]" in ended.stderr
    assert _committed(kafka.bootstrap_servers, scicow_settings.group_id, TopicPartition(topic, 0)) is None
    assert db[DATASET_COLLECTION].count_documents({}) == 0
    scicow()  # with every codec's library
    messages = (before, squeezed, after)
    wait_for(lambda: db[DATASET_COLLECTION].count_documents(
        {"_id": {"$in": [dataset_pid(m.message_id, PID_PREFIX) for m in messages]}}) == len(messages),
        timeout=90, what="every scan, the lz4 one too")
    assert read_topic(kafka.bootstrap_servers, dead_letter_topic(prefix), 0, timeout=3) == []


def test_a_batch_whose_codecs_library_is_missing_is_not_taken_for_undecodable(tmp_path) -> None:
    """No broker: kafka-python, without lz4's library, unpacks a sound lz4 batch. The error names the
    missing library, and is not read as a batch to move past: a consumer that met one after its
    start (the library removed under it) ends without committing, rather than lose the records."""
    check = ("from kafka import TopicPartition\n"
             "from kafka.consumer.fetcher import Fetcher\n"
             "from kafka.record import MemoryRecords\n"
             "from scizoo.ops.kafka_records import undecodable\n"
             "from tests.system.test_compression import record_batch\n"
             "records = Fetcher.PartitionRecords(0, TopicPartition('t', 0), "
             "MemoryRecords(record_batch(b'any payload', 3, 3)))\n"
             "try:\n"
             "    records.take()\n"
             "except Exception as err:\n"
             "    print(type(err).__name__, undecodable(err) is None, flush=True)\n"
             "    from scizoo.ops.kafka_records import missing_library\n"
             "    print(missing_library(err))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_without_lz4(tmp_path)), os.getcwd()])}
    answer = subprocess.run([sys.executable, "-c", check], env=env, check=False, capture_output=True, text=True, timeout=60)
    assert answer.stdout.split() == ["UnsupportedCodecError", "True", "lz4"], answer.stderr


def test_without_a_codecs_library_a_worker_refuses_to_start(tmp_path) -> None:
    """The reduction worker too: events compressed with a codec it cannot read would be skipped."""
    env = {**os.environ, "PYTHONPATH": str(_without_lz4(tmp_path)),
           "SCIREDUCE_MONGO_URI": "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=500"}
    ended = subprocess.run([sys.executable, "-m", "scizoo.cli", "scireduce", "run", "--no-verbose"], env=env, check=False,
                           capture_output=True, text=True, timeout=60)
    assert ended.returncode != 0
    assert "scireduce cannot reach the library of the lz4 codec" in ended.stderr
    assert "Install scizoo[reduce]" in ended.stderr


def _raw_datasets(db, pids: list[str]) -> None:
    """Finished raw datasets, each with one file, as scicow writes them (the fields the rules read)."""
    for pid in pids:
        db[DATASET_COLLECTION].insert_one({"_id": pid, "pid": pid, "type": "raw", "ownerGroup": "A",
                                           "instrumentIds": ["sim"], "dataFormat": "dat",
                                           "scientificMetadata": {"scan_status": {"value": "finished"}}})
        db[ORIG_DATABLOCK_COLLECTION].insert_one({"_id": f"block-{pid}", "datasetId": pid,
                                                  "dataFileList": [{"path": "/data/scan_0001.dat", "size": 1}]})


def _events(pid: str, tag: str, count: int) -> list[tuple[bytes, bytes]]:
    return [(pid.encode(), DatasetIngested(pid=pid, message_id=f"{tag}-{n}", beamline="sim", proposal_id="A",
                                           status="finished", ingested_at=datetime.now(UTC)).model_dump_json().encode())
            for n in range(count)]


@contextmanager
def _worker(kafka, mongo, db, prefix: str, tmp_path) -> Iterator[tuple[ScireduceSettings, threading.Thread]]:
    """A reduction worker whose one rule names a module pipeline, which it refuses at once: each
    event it reads leaves a failed job behind, and no job process is started."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(json.dumps({"rules": [{"name": "r", "pipeline": "tests.reduce_pipelines:FAILING"}]}))
    settings = ScireduceSettings(kafka_bootstrap=kafka.bootstrap_servers, topic_prefix=prefix, group_id=f"r-{prefix}",
                                 mongo_uri=mongo.uri, database=db.name, rules_file=rules, work_dir=tmp_path / "work",
                                 pid_prefix=PID_PREFIX, max_poll_interval_ms=5000, session_timeout_ms=6000,
                                 heartbeat_interval_ms=1000, poll_timeout_ms=200)
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(settings, stop), daemon=True)
    worker.start()
    try:
        yield settings, worker
    finally:
        stop.set()
        worker.join(30)


def test_a_worker_reads_ingested_events_compressed_with_each_codec(kafka, mongo, db, prefix, tmp_path) -> None:
    topic = events_topic(prefix)
    _one_partition_topic(kafka.bootstrap_servers, topic)
    pids = {codec: f"{PID_PREFIX}/{codec}" for codec in CODECS}
    _raw_datasets(db, list(pids.values()))
    for codec, pid in pids.items():
        _send(kafka.bootstrap_servers, codec, topic, _events(pid, codec, 5))
    assert {codec for _, codec in stored_codecs(kafka.bootstrap_servers, topic)} == set(CODECS.values())
    with _worker(kafka, mongo, db, prefix, tmp_path) as (settings, worker):
        jobs = db[JOB_COLLECTION]
        wait_for(lambda: jobs.count_documents({"datasetId": {"$in": list(pids.values())}}) == len(pids), timeout=90,
                 what="a job for each codec's event")
        wait_for(lambda: _committed(kafka.bootstrap_servers, settings.group_id, TopicPartition(topic, 0))
                 == 5 * len(CODECS), timeout=30, what="every event read and committed")
        assert worker.is_alive()
    assert all("not run" in job["log"] for job in db[JOB_COLLECTION].find())


def test_a_worker_reads_on_past_events_that_cannot_be_decoded(kafka, mongo, db, prefix, tmp_path, caplog) -> None:
    topic = events_topic(prefix)
    _one_partition_topic(kafka.bootstrap_servers, topic)
    _raw_datasets(db, [f"{PID_PREFIX}/after"])
    assert produce_raw(kafka.bootstrap_servers, topic, 0, record_batch(b"not compressed at all" * 4, 3,
                                                                     CODECS["gzip"])) == 0
    _send(kafka.bootstrap_servers, "none", topic, _events(f"{PID_PREFIX}/after", "after", 1))
    with _worker(kafka, mongo, db, prefix, tmp_path) as (_, worker):
        wait_for(lambda: db[JOB_COLLECTION].count_documents({"datasetId": f"{PID_PREFIX}/after"}) == 1, timeout=90,
                 what="the job of the event after the batch that cannot be decoded")
        assert worker.is_alive()
    assert f"events not read: records at offsets 0 to 2 of {topic}[0], compressed with gzip" in caplog.text

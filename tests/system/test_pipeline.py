"""End to end on real parts: scifish -> tansu -> scicow -> SecantusDB."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaProducer
from pydantic import SecretStr

from scifish import Capturer, ScanRequest, SpoolingProducer, TangoReader, message_key
from scizoo.core import (
    DATASET_COLLECTION,
    ORIG_DATABLOCK_COLLECTION,
    PROPOSAL_COLLECTION,
    QUARANTINE_COLLECTION,
    DataFile,
    DatasetIngested,
    ScanMetadata,
    beamline_topic,
    dataset_pid,
    dead_letter_topic,
    events_topic,
)
from scizoo.testing import EmbeddedKafka, UserOffice
from tests.helpers import PID_PREFIX, make_scan, read_topic, wait_for

pytestmark = pytest.mark.system


def _message(n: int, proposal: str = "20240001", beamline: str = "sim") -> ScanMetadata:
    return ScanMetadata(
        message_id=f"msg-{n}",
        beamline=beamline,
        source="manual",
        proposal_id=proposal,
        data_path="/data/sim/20240001/raw/",
        scan=make_scan(n),
        produced_at=datetime(2026, 11, 20, 13, 0, tzinfo=UTC),
    )


def _produce(bootstrap: str, prefix: str, messages: list[ScanMetadata]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for m in messages:
            producer.send(beamline_topic(prefix, m.beamline), key=message_key(m), value=m.model_dump_json().encode())
        producer.flush()
    finally:
        producer.close()


def test_scans_captured_from_tango_arrive_as_scicat_datasets(
    kafka, sim_beamline, beamline_config, scicow, scicow_settings, db, prefix, tmp_path
) -> None:
    scicow()
    reader = TangoReader(sim_beamline.addresses, timeout_s=2.0)
    producer = SpoolingProducer(kafka.bootstrap_servers, tmp_path / "spool")
    ids = [f"e2e-{prefix}-{n}" for n in range(8)]
    try:
        for n, message_id in enumerate(ids):
            sent = Capturer(beamline_config, reader, producer, prefix).capture_one(
                ScanRequest(make_scan(n), message_id), source="manual", now=datetime.now(UTC))
            assert sent.outcome == "sent"
    finally:
        producer.close()
        reader.close()
    datasets = db[DATASET_COLLECTION]
    # A batch's datasets are written before their OrigDatablocks (and committed after both).
    wait_for(lambda: datasets.count_documents({}) == len(ids) and
             db[ORIG_DATABLOCK_COLLECTION].count_documents({}) == len(ids), what="8 datasets and their datablocks")
    doc = datasets.find_one({"_id": dataset_pid(ids[3], PID_PREFIX)})
    assert doc is not None and doc["pid"] == doc["_id"]
    assert doc["proposalIds"] == ["20240001"] and doc["ownerGroup"] == "20240001"
    assert doc["accessGroups"] == ["collaborators", "sim-staff"]
    assert doc["owner"] == "Grace Hopper" and doc["contactEmail"] == "pi@example.org"
    assert isinstance(doc["creationTime"], datetime) and doc["creationTime"] == make_scan(3).end
    assert doc["scientificMetadata"]["shutter"]["value"] in {"inserted", "open", "closed"}
    assert doc["scientificMetadata"]["sample_x"]["unitSI"] == "m"
    assert not doc["sourceFolder"].endswith("/")
    # the configuration's techniques ("XAS" in sim.yaml), as SciCat holds them: a PaNET IRI and its name
    assert doc["techniques"] == [{"pid": "http://purl.org/pan-science/PaNET/PaNET01196",
                                  "name": "x-ray absorption spectroscopy"}]
    # SciCat-style range query on BSON dates finds them.
    assert datasets.count_documents({"creationTime": {"$gte": make_scan(4).end}}) == 4
    assert db[ORIG_DATABLOCK_COLLECTION].count_documents({"datasetId": doc["pid"]}) == 1
    events = [DatasetIngested.model_validate_json(v) for v in read_topic(kafka.bootstrap_servers,
                                                                          events_topic(prefix), 8)]
    assert sorted(e.message_id for e in events) == sorted(ids)


def test_a_beamline_topic_created_after_scicow_joined_is_consumed(kafka, scicow, db, prefix) -> None:
    # The demo's case: scicow joins its group before any beamline has produced, so the
    # topic appears only afterwards (kafka-python then sometimes never applies the
    # assignment; scicow must notice and re-join).
    scicow()
    time.sleep(8)  # let the first, empty join finish (3 s rebalance timeout here)
    _produce(kafka.bootstrap_servers, prefix, [_message(n, beamline="late") for n in range(3)])
    wait_for(lambda: db[DATASET_COLLECTION].count_documents({}) == 3, timeout=90, what="the late beamline's scans")


def test_replayed_messages_change_nothing(kafka, scicow, db, prefix) -> None:
    scicow()
    messages = [_message(n) for n in range(5)]
    _produce(kafka.bootstrap_servers, prefix, messages)
    datasets = db[DATASET_COLLECTION]
    wait_for(lambda: datasets.count_documents({}) == 5, what="5 datasets")
    before = {d["_id"]: d for d in datasets.find()}
    _produce(kafka.bootstrap_servers, prefix, [*messages, _message(99)])
    wait_for(lambda: datasets.count_documents({}) == 6, what="the 6th dataset")
    after = {d["_id"]: d for d in datasets.find()}
    for pid, doc in before.items():
        assert after[pid] == doc


def test_a_running_message_replayed_after_the_final_one_does_not_undo_it(kafka, scicow, db, prefix) -> None:
    scicow()
    partial = [DataFile(path="/data/sim/20240001/raw/scan_0001.h5", size=1)]
    running = _message(1).model_copy(update={"scan": make_scan(1, status="running").model_copy(
        update={"files": partial})})
    final = _message(1).model_copy(update={"produced_at": datetime(2026, 11, 20, 13, 5, tzinfo=UTC)})
    _produce(kafka.bootstrap_servers, prefix, [running, final])
    datasets = db[DATASET_COLLECTION]
    wait_for(lambda: datasets.count_documents({"scientificMetadata.scan_status.value": "finished"}) == 1,
             what="the finished dataset")
    _produce(kafka.bootstrap_servers, prefix, [running, _message(2)])  # the stale one, then a marker
    # The marker's datablock too: the stale message's datablock update comes in the same batch.
    wait_for(lambda: datasets.count_documents({}) == 2 and
             db[ORIG_DATABLOCK_COLLECTION].count_documents({}) == 2, what="the marker dataset and its datablock")
    doc = datasets.find_one({"_id": dataset_pid("msg-1", PID_PREFIX)})
    assert doc["scientificMetadata"]["scan_status"]["value"] == "finished"
    assert doc["endTime"] is not None
    block = db[ORIG_DATABLOCK_COLLECTION].find_one({"datasetId": doc["pid"]})
    assert [f["size"] for f in block["dataFileList"]] == [1001]  # the final file list, not the partial one


def test_sigkilled_consumer_restarts_without_loss_or_duplicates(kafka, mongo, scicow_settings, db, prefix) -> None:
    total = 300
    _produce(kafka.bootstrap_servers, prefix, [_message(n) for n in range(total)])
    env = {
        **os.environ,
        "SCICOW_KAFKA_BOOTSTRAP": kafka.bootstrap_servers,
        "SCICOW_TOPIC_PREFIX": prefix,
        "SCICOW_GROUP_ID": scicow_settings.group_id,
        "SCICOW_MONGO_URI": mongo.uri,
        "SCICOW_DATABASE": db.name,
        "SCICOW_PID_PREFIX": PID_PREFIX,
        "SCICOW_BATCH_MAX": "20",
        "SCICOW_MAX_POLL_INTERVAL_MS": "3000",
        "SCICOW_SESSION_TIMEOUT_MS": "6000",
        "SCICOW_HEARTBEAT_INTERVAL_MS": "1000",
    }
    cmd = [sys.executable, "-m", "scizoo.cli", "scicow", "run", "--no-verbose"]
    datasets = db[DATASET_COLLECTION]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: datasets.count_documents({}) >= 40, what="part of the stream ingested")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    partial = datasets.count_documents({})
    assert partial < total, "killed too late to test anything: lower the batch size"
    second = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: datasets.count_documents({}) >= total, timeout=90, what="all datasets after restart")
    finally:
        second.terminate()
        second.wait(30)
    assert datasets.count_documents({}) == total
    assert len(datasets.distinct("_id")) == total


def test_messages_captured_while_the_broker_is_down_arrive_later(
    mongo, scicow_settings, db, prefix, tmp_path, sim_beamline, beamline_config
) -> None:
    import threading

    from scicow import run

    broker = EmbeddedKafka()
    broker.start()
    settings = scicow_settings.model_copy(update={"kafka_bootstrap": broker.bootstrap_servers})
    reader = TangoReader(sim_beamline.addresses, timeout_s=2.0)
    producer = SpoolingProducer(broker.bootstrap_servers, tmp_path / "spool", send_timeout_s=1.0,
                                retry_interval_s=0.5)
    stop = threading.Event()
    consumer = None
    try:
        broker.stop()
        capturer = Capturer(beamline_config, reader, producer, prefix)
        outcomes = [
            capturer.capture_one(ScanRequest(make_scan(n), f"down-{n}"), source="manual", now=datetime.now(UTC)).outcome
            for n in range(3)
        ]
        assert outcomes == ["spooled"] * 3
        assert producer.pending() == 3
        # Captured while down and never sent: they are on disk, not in memory.
        assert len((tmp_path / "spool" / "spool.jsonl").read_text().splitlines()) == 3
        broker.start()  # same port
        wait_for(lambda: producer.pending() == 0, what="the spool to drain")
        consumer = threading.Thread(target=run, args=(settings, stop), daemon=True)
        consumer.start()
        datasets = db[DATASET_COLLECTION]
        wait_for(lambda: datasets.count_documents({}) == 3, what="the 3 spooled scans")
        assert {d["scientificMetadata"]["message_id"]["value"] for d in datasets.find()} == {
            "down-0", "down-1", "down-2"}
    finally:
        stop.set()
        if consumer:
            consumer.join(20)
        producer.close()
        reader.close()
        broker.stop()


def test_a_store_outage_mid_stream_loses_and_duplicates_nothing(kafka, scicow_settings, prefix, tmp_path) -> None:
    import threading

    from pymongo import MongoClient

    from scicow import run
    from scizoo.testing import EmbeddedMongo

    store = EmbeddedMongo(tmp_path / "store")
    store.start()
    uri = store.uri + "&serverSelectionTimeoutMS=1000"  # fail fast, so scicow's rewind path runs
    client = MongoClient(uri, tz_aware=True)
    settings = scicow_settings.model_copy(update={"mongo_uri": SecretStr(uri), "database": "outage", "batch_max": 20})
    client["outage"][PROPOSAL_COLLECTION].insert_one({"_id": "20240001", "proposalId": "20240001",
                                                       "ownerGroup": "20240001"})
    datasets = client["outage"][DATASET_COLLECTION]
    stop = threading.Event()
    consumer = threading.Thread(target=run, args=(settings, stop), daemon=True)
    try:
        _produce(kafka.bootstrap_servers, prefix, [_message(n) for n in range(100)])
        consumer.start()
        wait_for(lambda: datasets.count_documents({}) >= 20, what="the first batches")
        store.stop()
        _produce(kafka.bootstrap_servers, prefix, [_message(n) for n in range(100, 200)])
        time.sleep(4)  # batches fail and are rewound while the store is away
        store.start()  # same port, same data
        wait_for(lambda: datasets.count_documents({}) == 200, timeout=90, what="all 200 after the outage")
        ids = [d["scientificMetadata"]["message_id"]["value"] for d in datasets.find({}, {"scientificMetadata": 1})]
        assert sorted(ids) == sorted(f"msg-{n}" for n in range(200))
    finally:
        stop.set()
        consumer.join(30)
        client.close()
        store.stop()


def test_malformed_messages_go_to_the_dead_letter_topic(kafka, scicow, db, prefix) -> None:
    scicow()
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    topic = beamline_topic(prefix, "sim")
    bad_json = b"\xff\xfenot json at all"
    missing = json.dumps({"message_id": "x", "beamline": "sim"}).encode()
    producer.send(topic, key=b"sim/1", value=bad_json)
    producer.send(topic, key=b"sim/2", value=missing)
    producer.flush()
    producer.close()
    _produce(kafka.bootstrap_servers, prefix, [_message(1)])
    wait_for(lambda: db[DATASET_COLLECTION].count_documents({}) == 1, what="the good message after the bad")
    letters = [json.loads(v) for v in read_topic(kafka.bootstrap_servers, dead_letter_topic(prefix), 2)]
    assert len(letters) == 2
    by_original = {base64.b64decode(d["original_b64"]): d for d in letters}
    assert set(by_original) == {bad_json, missing}
    assert "invalid scan message" in by_original[bad_json]["reason"]
    assert "scan: Field required" in by_original[missing]["reason"]
    assert by_original[missing]["topic"] == topic


def test_unknown_proposal_is_quarantined_then_ingested(kafka, scicow, db, prefix) -> None:
    scicow()
    _produce(kafka.bootstrap_servers, prefix, [_message(1, proposal="29990001")])
    quarantine = db[QUARANTINE_COLLECTION]
    wait_for(lambda: quarantine.count_documents({}) == 1, what="the quarantine entry")
    entry = quarantine.find_one()
    assert entry["proposal_id"] == "29990001" and "29990001" in entry["reason"]
    assert db[DATASET_COLLECTION].count_documents({}) == 0
    db[PROPOSAL_COLLECTION].insert_one({"_id": "29990001", "proposalId": "29990001", "pi_email": "x@example.org",
                                        "ownerGroup": "29990001"})
    wait_for(lambda: db[DATASET_COLLECTION].count_documents({}) == 1, what="the re-driven dataset")
    # Released right after the write that made the dataset (the re-drive has a thread of its own).
    wait_for(lambda: quarantine.count_documents({}) == 0, timeout=10, what="the quarantine entry to go")
    assert db[DATASET_COLLECTION].find_one()["proposalIds"] == ["29990001"]


def test_redrive_command_ingests_quarantined_scans(kafka, mongo, scicow_settings, db, prefix) -> None:
    from kafka import KafkaProducer as Producer

    from scicow import make_ingestor

    producer = Producer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    ingestor = make_ingestor(scicow_settings, db, producer)
    try:
        ingestor.writer.quarantine_message(_message(7, proposal="29990002"),
                                           "proposal '29990002' is not in the catalogue", datetime.now(UTC))
        db[PROPOSAL_COLLECTION].insert_one({"_id": "29990002", "proposalId": "29990002"})
        env = {**os.environ, "SCICOW_KAFKA_BOOTSTRAP": kafka.bootstrap_servers, "SCICOW_MONGO_URI": mongo.uri,
               "SCICOW_DATABASE": db.name, "SCICOW_PID_PREFIX": PID_PREFIX, "SCICOW_TOPIC_PREFIX": prefix}
        out = subprocess.run([sys.executable, "-m", "scizoo.cli", "scicow", "redrive"], env=env,
                             capture_output=True, text=True, timeout=120, check=True)
    finally:
        producer.close()
    assert out.stdout.strip() == "redrive: 1 ingested, 0 dead letters"
    assert db[DATASET_COLLECTION].count_documents({"proposalIds": "29990002"}) == 1


def test_proposal_known_only_to_the_user_office(kafka, scicow_settings, db, prefix) -> None:
    import threading

    from scicow import run

    proposal = {"proposalId": "20249999", "title": "From the user office", "pi_email": "uo@example.org",
                "pi_firstname": "Lise", "pi_lastname": "Meitner"}
    with UserOffice({"20249999": proposal}, token="s3cret") as office:
        settings = scicow_settings.model_copy(update={"user_office_url": office.url,
                                                      "user_office_token": SecretStr("s3cret")})
        stop = threading.Event()
        thread = threading.Thread(target=run, args=(settings, stop), daemon=True)
        thread.start()
        try:
            _produce(kafka.bootstrap_servers, prefix, [_message(1, proposal="20249999"),
                                                       _message(2, proposal="20249999")])
            wait_for(lambda: db[DATASET_COLLECTION].count_documents({}) == 2, what="datasets via the user office")
        finally:
            stop.set()
            thread.join(20)
        assert office.requests == 1  # cached after the first answer
    assert db[PROPOSAL_COLLECTION].find_one({"_id": "20249999"})["pi_lastname"] == "Meitner"
    assert db[DATASET_COLLECTION].find_one()["owner"] == "Lise Meitner"


def test_demo_command_reports_real_counts(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-m", "scizoo.cli", "demo", "--scans", "4", "--no-serve", "--data-dir", str(tmp_path), "--verbose"],
        cwd=root, capture_output=True, text=True, timeout=300, check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    # The 4 scans asked for and the reflectivity series of 4 (reduced together).
    assert out.stdout.strip().splitlines()[-1] == "demo: 8 scans captured, 8 datasets in catalogue, 8 reduced, 0 lost"
    assert "a reflectivity series of 4 scans stitched into one curve" in out.stderr
    assert "fixity: 8 of 8 scans' files checksummed (blake2b), 8 as captured" in out.stderr
    assert (tmp_path / "store").is_dir()


def test_the_ordering_guard_lets_only_a_message_not_older_than_the_stored_one_update(db) -> None:
    from scicow import not_newer_than

    t = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
    later = datetime(2026, 11, 20, 13, 5, tzinfo=UTC)
    collection = db["guard"]
    collection.insert_many([
        {"_id": "without-the-field", "scientificMetadata": {}},
        {"_id": "older", "scientificMetadata": {"message_produced_at": {"value": t}}},
        {"_id": "same-time", "scientificMetadata": {"message_produced_at": {"value": later}}},
        {"_id": "newer", "scientificMetadata": {"message_produced_at": {"value": datetime(2026, 11, 21, tzinfo=UTC)}}},
    ])
    matched = {pid for pid in ("without-the-field", "older", "same-time", "newer")
               if collection.find_one(not_newer_than(pid, later)) is not None}
    assert matched == {"without-the-field", "older", "same-time"}


def test_scicow_creates_the_listed_beamlines_topics_with_the_set_partitions(kafka: EmbeddedKafka, prefix: str) -> None:
    from kafka import KafkaAdminClient

    from scicow import ScicowSettings
    from scicow._consumer import ensure_topics

    settings = ScicowSettings(kafka_bootstrap=kafka.bootstrap_servers, topic_prefix=prefix, topic_partitions=3,
                              beamlines=["balder", "flexpes"])
    ensure_topics(settings)
    ensure_topics(settings)  # a second member starting finds them there
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    try:
        wanted = [beamline_topic(prefix, "balder"), beamline_topic(prefix, "flexpes"), dead_letter_topic(prefix),
                  events_topic(prefix)]
        described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(wanted)}
    finally:
        admin.close()
    assert described == dict.fromkeys(wanted, 3)

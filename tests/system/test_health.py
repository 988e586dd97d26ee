"""Every long-running service answers /healthz, /readyz (its store and broker answer) and /metrics."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from scanlog_api import ScanlogSettings, create_app
from scicow import run
from scizoo.testing import EmbeddedMongo, free_port
from tests.helpers import wait_for
from tests.system.test_pipeline import _message, _produce

pytestmark = pytest.mark.system


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except urllib.error.URLError:
        return 0, ""  # not listening (yet)


def test_the_web_app_probes_and_metrics(mongo, db) -> None:
    with TestClient(create_app(ScanlogSettings(mongo_uri=mongo.uri, database=db.name))) as client:
        assert client.get("/healthz").text == "alive\n"
        assert client.get("/readyz").status_code == 200
        client.get("/api/scans")
        assert 'scizoo_http_request_seconds_count{method="GET",service="scanlog",status="200"}' in client.get(
            "/metrics").text
    down = ScanlogSettings(mongo_uri=f"mongodb://127.0.0.1:{free_port()}", connect_timeout_s=1)
    with TestClient(create_app(down)) as client:
        assert client.get("/healthz").status_code == 200  # alive, but
        answer = client.get("/readyz")
        assert answer.status_code == 503 and "MongoDB" in answer.text


def test_scicow_is_not_ready_while_its_store_is_away(kafka, scicow_settings, prefix, tmp_path) -> None:
    store = EmbeddedMongo(tmp_path / "store")
    store.start()
    uri = store.uri + "&serverSelectionTimeoutMS=1000"
    port = free_port()
    settings = scicow_settings.model_copy(update={"mongo_uri": SecretStr(uri), "database": "health",
                                                  "health_port": port})
    stop = threading.Event()
    consumer = threading.Thread(target=run, args=(settings, stop), daemon=True)
    consumer.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get(f"{base}/readyz")[0] == 200, timeout=30, what="ready")
        assert _get(f"{base}/healthz") == (200, "alive\n")
        def quarantined() -> float:  # the process's counters also hold what earlier tests counted
            line = next((ln for ln in _get(f"{base}/metrics")[1].splitlines()
                         if ln.startswith("scizoo_quarantined_total ")), "x 0")
            return float(line.split()[1])

        before = quarantined()
        _produce(kafka.bootstrap_servers, prefix, [_message(1, proposal="29990001")])  # quarantined: counted
        wait_for(lambda: quarantined() == before + 1, timeout=60, what="the metric")
        assert "scizoo_batch_write_seconds_count" in _get(f"{base}/metrics")[1]
        store.stop()
        wait_for(lambda: _get(f"{base}/readyz")[0] == 503, timeout=30, what="not ready")
        assert "MongoDB" in _get(f"{base}/readyz")[1]
        store.start()
        wait_for(lambda: _get(f"{base}/readyz")[0] == 200, timeout=30, what="ready again")
    finally:
        stop.set()
        consumer.join(30)
        store.stop()


def test_metrics_count_what_happened_and_the_lag_falls_to_zero(kafka, scicow_settings, db, prefix) -> None:
    import re

    from kafka import KafkaProducer

    from scizoo.core import DATASET_COLLECTION, beamline_topic

    def value(text: str, name: str, labels: str = "") -> float:
        found = re.findall(rf"^{name}(?:{{[^}}]*{labels}[^}}]*}})? ([0-9.e+-]+)$", text, re.M)
        return sum(float(v) for v in found)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    before = _get(f"{base}/metrics")  # not up yet: the process's counters may hold other tests' counts
    settings = scicow_settings.model_copy(update={"health_port": port})
    stop = threading.Event()
    consumer = threading.Thread(target=run, args=(settings, stop), daemon=True)
    consumer.start()
    try:
        wait_for(lambda: _get(f"{base}/readyz")[0] == 200, timeout=30, what="ready")
        start = _get(f"{base}/metrics")[1]
        ingested0, dead0 = value(start, "scizoo_messages_ingested_total"), value(start, "scizoo_dead_letters_total")
        _produce(kafka.bootstrap_servers, prefix, [_message(n) for n in range(5)])
        bad = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
        for n in range(2):
            bad.send(beamline_topic(prefix, "sim"), value=b"not a scan %d" % n)
        bad.flush()
        bad.close()
        wait_for(lambda: db[DATASET_COLLECTION].count_documents({}) == 5, what="the 5 good scans")

        def settled() -> bool:
            text = _get(f"{base}/metrics")[1]
            return (value(text, "scizoo_messages_ingested_total") - ingested0 == 5
                    and value(text, "scizoo_dead_letters_total") - dead0 == 2)

        wait_for(settled, timeout=30, what="5 ingested and 2 dead letters in /metrics")
        # The registry is the process's: only this test's topics count (other tests' consumers
        # in this process take their partitions off when they stop, but may still be running).
        ours = f'topic="{re.escape(prefix)}'
        wait_for(lambda: value(_get(f"{base}/metrics")[1], "scizoo_consumer_lag", ours) == 0
                 and re.search(rf"^scizoo_consumer_lag{{[^}}]*{ours}", _get(f"{base}/metrics")[1], re.M),
                 timeout=30, what="the lag at 0")
    finally:
        stop.set()
        consumer.join(30)
    assert before[0] == 0


def test_measuring_the_lag_never_waits_for_a_broker_that_is_away(scicow_settings, prefix) -> None:
    """A partition fetched from (its high-water mark known) whose position is to be reset, as
    after an out-of-range fetch on a broker that came back without its records: measuring its lag
    must not wait for the reset. kafka-python's ``position()`` waits without end by default, and
    the loop then never polls again, so never re-joins its group (the broker-restart fault test)."""
    from typing import cast

    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    from bench.bench_faults import kill_broker
    from scicow._consumer import _Loop
    from scicow._ingest import Ingestor
    from scizoo.testing import EmbeddedKafka

    with EmbeddedKafka() as kafka:
        topic = f"{prefix}.lag"
        producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
        for n in range(3):
            producer.send(topic, value=b"%d" % n, partition=0)
        producer.flush()
        producer.close()
        consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=f"lag-{prefix}",
                                 enable_auto_commit=False, auto_offset_reset="earliest")
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        wait_for(lambda: consumer.poll(timeout_ms=200) is not None and consumer.highwater(tp) == 3,
                 what="a fetch that knows the high-water mark")
        loop = _Loop(scicow_settings.model_copy(update={"kafka_bootstrap": kafka.bootstrap_servers}), consumer,
                     cast(Ingestor, None), None)  # measure_lag reads the consumer only
        try:
            kill_broker(kafka)
            consumer.seek_to_beginning(tp)  # its position is now "to be reset"
            measured = threading.Thread(target=loop.measure_lag, daemon=True)
            measured.start()
            measured.join(20)
            assert not measured.is_alive(), "measuring the lag waited on the broker"
        finally:
            loop.writer.shutdown(wait=False)
            loop.redriver.shutdown(wait=False)
            consumer.close(autocommit=False, timeout_ms=1000)


def test_the_wake_ups_reach_a_real_consumers_network_thread(kafka, prefix) -> None:
    """scicow's wake-ups (kafka_records.nudged) go through kafka-python's private ``_client``:
    on a real consumer that is found (an upgrade that moved it would silently end them), and a
    poll woken every 50 ms still reads what the broker holds."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    from scizoo.ops.kafka_records import nudged, wakeup_of

    topic = f"{prefix}.nudged"
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    producer.send(topic, value=b"one", partition=0)
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, auto_offset_reset="earliest",
                             enable_auto_commit=False)
    try:
        assert wakeup_of(consumer) is not None
        consumer.assign([TopicPartition(topic, 0)])
        read: list[bytes] = []
        with nudged(consumer, every_s=0.05):
            wait_for(lambda: read.extend(r.value for rs in consumer.poll(timeout_ms=200).values() for r in rs)
                     or read == [b"one"], what="the record, read while the network thread is woken")
    finally:
        consumer.close()

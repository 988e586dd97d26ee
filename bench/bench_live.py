"""Live latency: a scan message produced to Kafka -> its row visible in the browser.

Real tansu, scicow, SecantusDB, scanlog (uvicorn) and Debian's chromium (Playwright).
The page records, with a MutationObserver, the wall-clock time each row appears; the
benchmark compares it with the time the message was produced (same machine, same
clock). Scans are produced one at a time, 300 ms apart.

Run: .venv/bin/python bench/bench_live.py [scans]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from kafka import KafkaProducer
from pymongo import MongoClient

from scanlog_api import ScanlogServer, ScanlogSettings, TokenUser
from scicow import ScicowSettings, run
from scifish import message_key
from scizoo.core import PROPOSAL_COLLECTION, ScanBlock, ScanMetadata, beamline_topic
from scizoo.testing import EmbeddedKafka, EmbeddedMongo

OBSERVER = """() => {
window.seen = {};
new MutationObserver(() => {
  for (const td of document.querySelectorAll('#rows td[data-col=scan_id]')) {
    if (!(td.textContent in window.seen)) window.seen[td.textContent] = Date.now();
  }
}).observe(document.getElementById('rows'), {childList: true, subtree: true});
}"""


def main(scans: int) -> None:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    with EmbeddedKafka() as kafka, EmbeddedMongo(tmp / "store") as mongo:
        client = MongoClient(mongo.uri)
        client["live"][PROPOSAL_COLLECTION].insert_one({"_id": "20240001", "proposalId": "20240001",
                                                        "ownerGroup": "20240001"})
        stop = threading.Event()
        settings = ScicowSettings(kafka_bootstrap=kafka.bootstrap_servers, topic_prefix="live", group_id="live",
                                  mongo_uri=mongo.uri, database="live", max_poll_interval_ms=3000,
                                  session_timeout_ms=6000, heartbeat_interval_ms=1000)
        consumer = threading.Thread(target=run, args=(settings, stop), daemon=True)
        consumer.start()
        server = ScanlogServer(ScanlogSettings(
            mongo_uri=mongo.uri, database="live", tokens={"t": TokenUser(user="u", groups=["20240001"])}),
            grace_s=1).start()
        producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
        topic = beamline_topic("live", "sim")

        def produce(n: int) -> float:
            now = datetime.now(UTC)
            message = ScanMetadata(message_id=f"live-{n}", beamline="sim", source="manual", proposal_id="20240001",
                                   data_path="/data", scan=ScanBlock(id=f"s{n}", start=now, end=now),
                                   produced_at=now)
            sent_at = time.time() * 1000
            producer.send(topic, key=message_key(message), value=message.model_dump_json().encode()).get(10)
            return sent_at

        produce(-1)  # the topic exists and scicow has joined before the page opens
        client_db = client["live"]["Dataset"]
        while client_db.count_documents({}) < 1:
            time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            page = browser.new_page()
            page.goto(f"{server.url}/#token=t")
            page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 1")
            page.evaluate(OBSERVER)
            time.sleep(1.0)
            sent = {}
            for n in range(scans):
                sent[f"s{n}"] = produce(n)
                time.sleep(0.3)
            page.wait_for_function(f"() => Object.keys(window.seen).length >= {scans + 1}", timeout=60_000)
            seen = page.evaluate("window.seen")
            browser.close()
        latencies = sorted((seen[k] - v) / 1000 for k, v in sent.items() if k in seen)
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        print(f"live latency, {len(latencies)} of {scans} scans seen: p50 {statistics.median(latencies):.3f} s  "
              f"p95 {p95:.3f} s  max {latencies[-1]:.3f} s")
        stop.set()
        consumer.join(20)
        server.stop()
        producer.close()
        client.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)

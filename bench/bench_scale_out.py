"""scicow scale-out: one consumer group of 1 and of 2 ``scicow run`` processes, in the same run.

The same N scan messages (bench_ingest's, 20 entries each) sit on one beamline topic of 4
partitions on tansu; each case is a new group (so it reads them all from the start) writing
to its own database of one SecantusDB. Timed from the first dataset in the store to the
last (the group's join before that is reported apart); every message id is counted, so a
message written twice or not at all shows.

On this 2-core machine the store, the broker and both members share two cores: the figure
shows the mechanism (the partitions split, every message written once), not a cluster's
ceiling, where each member runs on its own machine against a replicated store.

Group timing: "fast" (max_poll_interval 3 s, as the fault benches, so joins are quick) or
"default" (scicow's own: 300 s). With fast timing a batch slower than 3 s gets its member
evicted; scicow then halves its batches (see scicow/_consumer.py) and goes on.

Run: .venv/bin/python bench/bench_scale_out.py [messages] [fast|default]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the bench package is beside the project's
    sys.path.insert(0, str(ROOT))

from kafka import KafkaAdminClient, KafkaProducer
from pymongo import MongoClient

from bench.bench_faults import GROUP_TIMING, PROPOSAL, ScicowProcess, scicow_settings
from bench.bench_ingest import make_messages
from scicow import ScicowSettings
from scizoo.core import DATASET_COLLECTION, PROPOSAL_COLLECTION, beamline_topic
from scizoo.testing import EmbeddedKafka, EmbeddedMongo

PARTITIONS = 4


def one_case(members: int, n: int, kafka: EmbeddedKafka, mongo: EmbeddedMongo, prefix: str,
             work: Path, timing: dict[str, int]) -> tuple[float, float, int, int]:
    """(join s, write s, datasets, duplicates) for a group of ``members`` processes."""
    name = f"members{members}"
    client: MongoClient = MongoClient(mongo.uri)
    db = client[name]
    db[PROPOSAL_COLLECTION].insert_one(dict(PROPOSAL))
    settings = scicow_settings(kafka.bootstrap_servers, mongo.uri, name, topic_prefix=prefix,
                               group_id=f"scale-{name}", batch_max=500, **timing)
    procs = [ScicowProcess(settings, work / f"{name}-{i}.log") for i in range(members)]
    started = time.monotonic()
    for proc in procs:
        proc.start()
    datasets = db[DATASET_COLLECTION]
    first = last = None
    try:
        while time.monotonic() - started < 600:
            count = datasets.estimated_document_count()
            now = time.monotonic()
            if count and first is None:
                first = now
            if count >= n:
                last = now
                break
            time.sleep(0.1)
    finally:
        for proc in procs:
            proc.stop()
    if first is None or last is None:
        raise RuntimeError(f"{members} member(s): not all {n} datasets within 600 s")
    ids = [d["scientificMetadata"]["message_id"]["value"] for d in datasets.find({}, {"scientificMetadata.message_id": 1})]
    client.close()
    return first - started, last - first, len(set(ids)), len(ids) - len(set(ids))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    which = sys.argv[2] if len(sys.argv) > 2 else "fast"
    fields = ("max_poll_interval_ms", "session_timeout_ms", "heartbeat_interval_ms")
    timing = GROUP_TIMING if which == "fast" else {f: ScicowSettings.model_fields[f].default for f in fields}
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    prefix = "scale"
    with EmbeddedKafka() as kafka, EmbeddedMongo(work / "store") as mongo:
        topic = beamline_topic(prefix, "bench")
        admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
        admin.create_topics({topic: {"num_partitions": PARTITIONS, "replication_factor": 1}})
        admin.close()
        producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all", linger_ms=5)
        for m in make_messages(n):
            producer.send(topic, key=m.message_id.encode(), value=m.model_dump_json().encode())
        producer.flush()
        producer.close()
        print(f"{n} scan messages on {topic} ({PARTITIONS} partitions, tansu); SecantusDB; 2 cores in all; "
              f"group timing {which} {timing}")
        print(f"{'members':>8} {'join s':>7} {'write s':>8} {'msgs/s':>8} {'datasets':>9} {'dupl.':>6}")
        rates = {}
        for members in (1, 2):
            join, write, found, dup = one_case(members, n, kafka, mongo, prefix, work, timing)
            rates[members] = n / write
            print(f"{members:>8} {join:>7.1f} {write:>8.1f} {rates[members]:>8.0f} {found:>9} {dup:>6}")
        print(f"2 members = {rates[2] / rates[1]:.2f}x 1 member (same machine: the store and broker share the cores)")


if __name__ == "__main__":
    main()

"""Reduction: the cost of a cache hit against a full run, and jobs/s with 1 and 2 workers.

    .venv/bin/python bench/bench_reduce.py [jobs]

Each job runs in its own process (python, the pipeline, h5py and matplotlib for the
outputs), as in production; two workers run two at once (the consumer group's members
on different partitions), measured here as two reducers side by side over one store.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pymongo import MongoClient

from scireduce import Reducer, ResultCache, Rule, RuleSet, ScireduceSettings, run_pipeline
from scireduce.pipelines import PROFILE
from scizoo.core import DATASET_COLLECTION, ORIG_DATABLOCK_COLLECTION, DatasetIngested
from scizoo.testing import EmbeddedMongo


def scan(path: Path, points: int) -> Path:
    path.write_text("".join(f"{i * 0.01} {100 + i % 50} {1000 + i % 7}\n" for i in range(points)))
    return path


def cache_cost(folder: Path) -> None:
    raw = scan(folder / "big.dat", 100_000)
    cache = ResultCache(folder / "cache")
    t0 = time.perf_counter()
    run_pipeline(PROFILE, raw, {"bin": {"bins": 100}}, cache)
    full = time.perf_counter() - t0
    t0 = time.perf_counter()
    hit = run_pipeline(PROFILE, raw, {"bin": {"bins": 100}}, cache)
    cached = time.perf_counter() - t0
    assert hit.executed == []
    print(f"profile over 100,000 points: full run {full * 1000:7.1f} ms, cache hit {cached * 1000:7.1f} ms "
          f"({full / cached:.1f}x)")


def jobs_per_second(folder: Path, jobs: int, workers: int) -> float:
    with EmbeddedMongo(folder / f"store{workers}") as mongo:
        client: MongoClient = MongoClient(mongo.uri)
        db = client["bench"]
        for n in range(jobs):
            path = scan(folder / f"s{workers}_{n}.dat", 200)
            db[DATASET_COLLECTION].insert_one({"_id": f"p/{n}", "pid": f"p/{n}", "type": "raw", "ownerGroup": "A",
                                               "instrumentIds": ["sim"],
                                               "scientificMetadata": {"scan_status": {"value": "finished"}}})
            db[ORIG_DATABLOCK_COLLECTION].insert_one({"datasetId": f"p/{n}", "dataFileList": [{"path": str(path)}]})
        rules = RuleSet(rules=[Rule(name="p", pipeline="profile")])
        settings = ScireduceSettings(work_dir=folder / f"work{workers}")
        now = datetime.now(UTC)
        events = [DatasetIngested(pid=f"p/{n}", message_id="m", beamline="sim", proposal_id="A", status="finished",
                                  ingested_at=now) for n in range(jobs)]

        def work(share: list[DatasetIngested]) -> None:
            reducer = Reducer(db, rules, settings)
            for event in share:
                reducer.handle(event)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=work, args=(events[i::workers],)) for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        assert db[DATASET_COLLECTION].count_documents({"type": "derived"}) == jobs
        client.close()
    return jobs / elapsed


def main(jobs: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-reduce-"))
    cache_cost(folder)
    one = jobs_per_second(folder, jobs, 1)
    two = jobs_per_second(folder, jobs, 2)
    print(f"{jobs} jobs (a process each): 1 worker {one:5.2f} jobs/s, 2 workers {two:5.2f} jobs/s ({two / one:.2f}x)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)

"""Reduction jobs per second: the subprocess runner against the Dask runner with 1 and 2 dask
worker processes, in the same run, on this machine.

    .venv/bin/python bench/bench_dask.py [jobs]

Each job is the shipped ``profile`` pipeline on a 200-point scan, in its own process (python,
the pipeline, h5py and matplotlib for the outputs) as in production: on the scireduce worker
(subprocess runner) or on a dask worker (Dask runner, a real ``dask scheduler`` and ``dask
worker`` processes). A scireduce worker waits for each job it runs, so N jobs at once take N
scireduce workers (here: N reducers side by side over one store, as N pods of the group);
"2 workers" is 2 reducers on either runner.
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

from scireduce import Reducer, Rule, RuleSet, ScireduceSettings
from scizoo.core import DATASET_COLLECTION, JOB_COLLECTION, ORIG_DATABLOCK_COLLECTION, DatasetIngested
from scizoo.testing import EmbeddedMongo
from tests.dask_cluster import LocalDaskCluster


def scan(path: Path, points: int) -> Path:
    path.write_text("".join(f"{i * 0.01} {100 + i % 50} {1000 + i % 7}\n" for i in range(points)))
    return path


def jobs_per_second(mongo: EmbeddedMongo, folder: Path, name: str, jobs: int, reducers: int,
                    settings: ScireduceSettings) -> float:
    client: MongoClient = MongoClient(mongo.uri, tz_aware=True)
    db = client[name]
    for n in range(jobs):
        path = scan(folder / f"{name}_{n}.dat", 200)
        db[DATASET_COLLECTION].insert_one({"_id": f"p/{n}", "pid": f"p/{n}", "type": "raw", "ownerGroup": "A",
                                           "instrumentIds": ["sim"],
                                           "scientificMetadata": {"scan_status": {"value": "finished"}}})
        db[ORIG_DATABLOCK_COLLECTION].insert_one({"datasetId": f"p/{n}", "dataFileList": [{"path": str(path)}]})
    rules = RuleSet(rules=[Rule(name="p", pipeline="profile")])
    now = datetime.now(UTC)
    events = [DatasetIngested(pid=f"p/{n}", message_id="m", beamline="sim", proposal_id="A", status="finished",
                              ingested_at=now) for n in range(jobs)]
    pool = [Reducer(db, rules, settings.model_copy(update={"work_dir": folder / f"work-{name}",
                                                           "worker_id": f"{name}-{i}"}))
            for i in range(reducers)]
    for reducer in pool:  # connected before the clock starts (a pod connects once, at its start)
        start = getattr(reducer.runner, "start", None)
        if start is not None:
            start()

    def work(reducer: Reducer, share: list[DatasetIngested]) -> None:
        for event in share:
            reducer.handle(event)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=work, args=(r, events[i::reducers])) for i, r in enumerate(pool)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    for reducer in pool:
        close = getattr(reducer.runner, "close", None)
        if close is not None:
            close()
    succeeded = db[JOB_COLLECTION].count_documents({"state": "succeeded"})
    assert succeeded == jobs, f"{name}: {succeeded} of {jobs} jobs succeeded"
    client.close()
    return jobs / elapsed


def main() -> None:
    jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    with tempfile.TemporaryDirectory() as tmp, EmbeddedMongo(Path(tmp) / "store") as mongo:
        folder = Path(tmp)
        base = ScireduceSettings(pid_prefix="20.500.99999")
        print(f"{jobs} jobs of the profile pipeline (200 points), each in its own process")
        results = {}
        for reducers in (1, 2):
            results[f"subprocess, {reducers} worker(s)"] = jobs_per_second(
                mongo, folder, f"sub{reducers}", jobs, reducers, base)
        for workers in (1, 2):
            with LocalDaskCluster(folder / f"dask{workers}", workers=workers) as cluster:
                dask = base.model_copy(update={"runner": "dask", "dask_scheduler": cluster.address})
                results[f"dask, {workers} dask worker(s)"] = jobs_per_second(
                    mongo, folder, f"dask{workers}", jobs, workers, dask)
        for name, rate in results.items():
            print(f"  {name:<28} {rate:6.2f} jobs/s  ({1000 / rate:6.0f} ms per job)")


if __name__ == "__main__":
    main()

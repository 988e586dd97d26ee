"""The pipeline view's preview: from a parameter changed (the request) to the new curve (the
answer read back), p50 and p95, with the steps upstream of the change cached and with nothing
cached (a scan never reduced before).

    .venv/bin/python bench/bench_preview.py [previews of each kind]

The parts, each real: SecantusDB, the scan table over HTTP (ScanlogServer), and a reduction
worker's preview thread (scireduce._preview.start_previews, as run_worker starts it, with its
warm process) on the shipped `profile` pipeline over NeXus scans of 200 points. The client asks
as the page does (POST /api/reduction-previews, then GET until answered) but polls every 10 ms,
so the figures are the system's; the page polls every 100 ms, which adds up to that much.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx
from pymongo import MongoClient

from scanlog_api import ScanlogServer, ScanlogSettings, TokenUser
from scireduce import Reducer, ScireduceSettings, StoredRules
from scireduce._describe import publish_pipelines
from scireduce._preview import start_previews
from scireduce._registry import pipelines
from scizoo.core import DATASET_COLLECTION, ORIG_DATABLOCK_COLLECTION, PIPELINE_COLLECTION, REDUCTION_RULES_COLLECTION
from scizoo.testing import EmbeddedMongo
from scizoo.testing.nexus import write_scan_nexus

POINTS = 200


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def _scan(db, folder: Path, n: int) -> str:
    now = datetime.now(UTC)
    x = [i * 0.05 for i in range(POINTS)]
    path = write_scan_nexus(folder / f"scan_{n:05d}.nxs", x=x, counts=[100 + (i * 37) % 250 for i in range(POINTS)],
                            monitor=[1000 + i % 7 for i in range(POINTS)], title=f"ascan {n}", start=now, end=now)
    pid = f"bench/preview-{n}"
    db[DATASET_COLLECTION].insert_one({
        "_id": pid, "pid": pid, "type": "raw", "ownerGroup": "A", "accessGroups": [], "isPublished": False,
        "instrumentIds": ["sim"], "dataFormat": "nexus", "datasetName": f"scan {n}", "proposalIds": ["A"],
        "creationTime": now, "scientificMetadata": {"scan_status": {"value": "finished"}}})
    db[ORIG_DATABLOCK_COLLECTION].insert_one({"_id": f"block-{n}", "datasetId": pid,
                                              "dataFileList": [{"path": str(path), "size": path.stat().st_size}]})
    return pid


def _preview(client: httpx.Client, pid: str, params: dict) -> tuple[float, list[str]]:
    started = time.perf_counter()
    answer = client.post("/api/reduction-previews", json={"pid": pid, "rule": "fine", "params": params})
    answer.raise_for_status()
    preview = answer.json()
    while preview["state"] in ("queued", "running"):
        time.sleep(0.01)
        preview = client.get(f"/api/reduction-previews/{preview['id']}").json()
    if preview["state"] != "done":
        raise RuntimeError(f"preview {preview['state']}: {preview.get('error')}")
    return (time.perf_counter() - started) * 1000, preview["executed"]


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedMongo(Path(tmp) / "store") as mongo:
        client: MongoClient = MongoClient(mongo.uri, tz_aware=True)
        db = client["bench"]
        seed = Path(tmp) / "rules.yaml"
        seed.write_text(json.dumps({"rules": [{"name": "fine", "pipeline": "profile", "beamline": "sim",
                                               "params": {"bin": {"bins": 20}}}]}))
        book = StoredRules(db[REDUCTION_RULES_COLLECTION], seed)
        book.seed()
        publish_pipelines(db[PIPELINE_COLLECTION], pipelines(), by="bench", now=datetime.now(UTC))
        (Path(tmp) / "raw").mkdir()
        scans = [_scan(db, Path(tmp) / "raw", i) for i in range(n + 1)]
        reducer = Reducer(db, book.current(), ScireduceSettings(work_dir=Path(tmp) / "work", pid_prefix="bench"))
        stop = threading.Event()
        worker = start_previews(db, reducer, stop)
        settings = ScanlogSettings(mongo_uri=mongo.uri, database="bench",
                                   tokens={"ta": TokenUser(user="alice", groups=["A"])})
        try:
            with ScanlogServer(settings, grace_s=1) as server, httpx.Client(
                    base_url=server.url, headers={"Authorization": "Bearer ta"}, timeout=60) as http:
                _preview(http, scans[0], {})  # the process warm, the scan's steps cached
                uncached, cached = [], []
                for i in range(n):
                    ms, executed = _preview(http, scans[i + 1], {})  # a scan never reduced: every step runs
                    assert executed == ["load", "normalise", "bin"], executed
                    uncached.append(ms)
                    ms, executed = _preview(http, scans[0], {"bin": {"bins": 5 + i}})  # only bin runs
                    assert executed == ["bin"], executed
                    cached.append(ms)
        finally:
            stop.set()
            worker.join(30)
            client.close()
    for name, values in (("cached upstream (only bin runs)", cached), ("uncached (load, normalise, bin)", uncached)):
        print(f"{name:34s} n={len(values):3d}  p50 {_percentile(values, 0.5):7.1f} ms  "
              f"p95 {_percentile(values, 0.95):7.1f} ms  mean {statistics.mean(values):7.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)

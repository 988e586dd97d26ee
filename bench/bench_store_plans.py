"""Why a proposal with 10,000 scans is slow on SecantusDB: its query plans, measured.

Seeds N datasets over P proposals (as bench_scanlog.py), builds scizoo's indexes, and for
the table's queries of one proposal prints SecantusDB's winning plan and the time of a page
of 50 (newest first) and of the count. Compare with bench_scanlog.py's small proposals.

Run: .venv/bin/python bench/bench_store_plans.py [datasets] [proposals]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the bench package is beside the project's
    sys.path.insert(0, str(ROOT))

from pymongo import MongoClient

from bench.bench_scanlog import seed
from scizoo.core import DATASET_COLLECTION, ensure_indexes
from scizoo.testing import EmbeddedMongo


def median_ms(run: Callable[[], Any], times: int = 3) -> float:
    spent = []
    for _ in range(times):
        start = time.perf_counter()
        run()
        spent.append(time.perf_counter() - start)
    return 1000 * statistics.median(spent)


def main(n: int, proposals: int) -> None:
    with EmbeddedMongo(tempfile.mkdtemp(prefix="bench-plans-")) as mongo:
        client: MongoClient = MongoClient(mongo.uri, tz_aware=True)
        db = client["bench"]
        datasets = db[DATASET_COLLECTION]
        seed(datasets, n, proposals)
        ensure_indexes(db)
        proposal = "20240001"
        print(f"{n} datasets, {proposals} proposals ({n // proposals} each); indexes: "
              + ", ".join("+".join(k for k in i["key"]) for i in datasets.list_indexes()))
        queries = {
            "ownerGroup = P": {"ownerGroup": proposal},
            "proposalIds = P": {"proposalIds": proposal},
            "proposalIds = P, ownerGroup in [P] (the table's first branch)": {"proposalIds": proposal,
                                                                              "ownerGroup": {"$in": [proposal]}},
        }
        for name, query in queries.items():
            plan = datasets.find(query).sort("creationTime", -1).limit(50).explain()["queryPlanner"]["winningPlan"]
            stages = [plan.get("stage"), (plan.get("inputStage") or {}).get("stage")]
            page = median_ms(lambda q=query: list(datasets.find(q).sort("creationTime", -1).limit(50)))
            count = median_ms(lambda q=query: datasets.count_documents(q))
            print(f"{name}: plan {' <- '.join(s for s in stages if s)}; page of 50 {page:.0f} ms; count {count:.0f} ms")
        # The same page with a time range first in the filter: the store then scans the
        # (ownerGroup, creationTime) index over the range only.
        newest = max(d["creationTime"] for d in datasets.find({"ownerGroup": proposal}, {"creationTime": 1}))
        for hours in (1, 4, 24):
            window = {"creationTime": {"$gte": newest - timedelta(hours=hours)}, "ownerGroup": proposal}
            page = median_ms(lambda q=window: list(datasets.find(q).sort("creationTime", -1).limit(50)))
            count = median_ms(lambda q=window: datasets.count_documents(q))
            print(f"time range first, the newest {hours} h ({datasets.count_documents(window)} scans): "
                  f"page {page:.0f} ms, count {count:.0f} ms")
        client.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000, int(sys.argv[2]) if len(sys.argv) > 2 else 5)

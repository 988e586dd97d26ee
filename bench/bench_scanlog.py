"""scanlog at scale: the table's query and the CSV export, on SecantusDB.

Seeds N datasets (default 200,000) over P proposals (default 20) and 2 beamlines, starts the API's index
creation, then measures through the real app (FastAPI TestClient, real store):

- a filtered, sorted page of 50 plus its total count (proposal filter, newest first), p50/p95;
- the same page with no index (a plain find on a fresh collection copy is too slow to
  build here, so the peer is the unfiltered "newest 50 of everything" query the recipe
  warns about), once;
- the CSV export of one proposal's rows: rows/s and the process's peak RSS growth;
- the facets of one proposal (counts and a photon-energy histogram in keV, over its newest
  10,000 scans), p50/p95.

Run: .venv/bin/python bench/bench_scanlog.py [datasets] [proposals]
"""

from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from pymongo import MongoClient

from scanlog_api import ScanlogSettings, TokenUser, create_app
from scizoo.core import DATASET_COLLECTION
from scizoo.testing import EmbeddedMongo


def seed(collection, n: int, proposals: int = 20) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    batch = []
    for i in range(n):
        proposal = f"2024{i % proposals:04d}"
        when = base + timedelta(seconds=30 * i)
        batch.append({
            "_id": f"20.500/{i:08d}", "pid": f"20.500/{i:08d}", "description": f"ascan mot01 0 10 10 0.1 #{i}",
            "datasetName": f"sim {i}", "creationTime": when, "startTime": when, "endTime": when,
            "proposalIds": [proposal], "instrumentIds": [f"bl{i % 2}"], "ownerGroup": proposal,
            "accessGroups": ["staff"], "isPublished": False, "numberOfFiles": 1, "keywords": ["sim"],
            "scientificMetadata": {"scan_id": {"value": str(i), "unit": ""},
                                   "scan_status": {"value": "finished", "unit": ""},
                                   "photon_energy": {"value": 100.0 + i % 50, "unit": "eV"},
                                   "sample_temperature": {"value": 20.0, "unit": "K"}},
        })
        if len(batch) == 5000:
            collection.insert_many(batch, ordered=False)
            batch = []
    if batch:
        collection.insert_many(batch, ordered=False)


def main(n: int, proposals: int, modes: tuple[bool, ...] = (False, True)) -> None:
    with EmbeddedMongo(tempfile.mkdtemp(prefix="bench-scanlog-")) as mongo:
        client = MongoClient(mongo.uri, tz_aware=True)
        datasets = client["bench"][DATASET_COLLECTION]
        start = time.monotonic()
        seed(datasets, n, proposals)
        print(f"seeded {n} datasets over {proposals} proposals ({n // proposals} each) in "
              f"{time.monotonic() - start:.1f} s")
        per_proposal = n // proposals
        proposal = f"2024{min(7, proposals - 1):04d}"  # one the seed made
        for tally in modes:  # the store alone (the peer), then with the tally
            settings = ScanlogSettings(mongo_uri=mongo.uri, database="bench", tally=tally,
                                       tokens={"u": TokenUser(user="u", groups=[proposal])})
            app = create_app(settings)
            with TestClient(app) as api:  # builds the indexes (and the tally) at start, in the background
                start = time.monotonic()
                app.state.indexes_ready.wait()
                if tally:
                    assert app.state.store.tally.ready.wait(600)
                print(f"[tally {'on' if tally else 'off'}] indexes{' and tally' if tally else ''} ready in "
                      f"{time.monotonic() - start:.1f} s")
                headers = {"Authorization": "Bearer u"}
                for skip in (0, 1000):
                    times = []
                    for _ in range(20):
                        t = time.perf_counter()
                        page = api.get(f"/api/scans?proposal={proposal}&limit=50&skip={skip}", headers=headers).json()
                        times.append(time.perf_counter() - t)
                    assert len(page["data"]) == max(0, min(50, per_proposal - skip)), len(page["data"])
                    assert page["count"] == per_proposal, page["count"]
                    times.sort()
                    print(f"[tally {'on' if tally else 'off'}] page of 50 (skip {skip}) + count, proposal filter, "
                          f"newest first: p50 {1000 * statistics.median(times):.1f} ms"
                          f"  p95 {1000 * times[int(0.95 * (len(times) - 1))]:.1f} ms  (count {page['count']})")
                times = []
                for _ in range(10):
                    t = time.perf_counter()
                    picked = api.get("/api/beamlines", headers=headers).json()
                    times.append(time.perf_counter() - t)
                which = min(7, proposals - 1)  # the seed's beamline of scan i is bl{i % 2}
                assert picked == sorted({f"bl{i % 2}" for i in range(2 * proposals) if i % proposals == which}), picked
                print(f"[tally {'on' if tally else 'off'}] beamline picker (/api/beamlines): "
                      f"p50 {1000 * statistics.median(times):.1f} ms  max {1000 * max(times):.1f} ms")
                times = []
                for _ in range(10):
                    t = time.perf_counter()
                    facets = api.get(f"/api/scans/facets?proposal={proposal}&key=photon_energy&unit=keV",
                                     headers=headers).json()
                    times.append(time.perf_counter() - t)
                assert facets["of"] == per_proposal and facets["counted"] == min(per_proposal, 10_000), facets
                energy = facets["keys"][0]
                assert sum(b["count"] for b in energy["bins"]) + energy["unconverted"] == facets["counted"], energy
                times.sort()
                print(f"[tally {'on' if tally else 'off'}] facets of the proposal (/api/scans/facets, a histogram in "
                      f"keV): p50 {1000 * statistics.median(times):.1f} ms  p95 {1000 * times[int(0.95 * 9)]:.1f} ms"
                      f"  (counted {facets['counted']} of {facets['of']})")
                if tally:
                    continue
                t = time.perf_counter()
                list(datasets.find({}).sort("creationTime", -1).limit(50))
                datasets.count_documents({})
                print(f"peer: newest 50 of everything + count, no selective filter: {time.perf_counter() - t:.2f} s")
                rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                t = time.perf_counter()
                rows = 0
                with api.stream("GET", f"/api/scans.csv?proposal={proposal}&columns=scan_id,title,start,status,"
                                "meta:photon_energy", headers=headers) as response:
                    for line in response.iter_lines():
                        rows += 1
                elapsed = time.perf_counter() - t
                rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                print(f"CSV: {rows - 1} rows in {elapsed:.2f} s = {(rows - 1) / elapsed:,.0f} rows/s; "
                      f"peak RSS grew {(rss1 - rss0) / 1024:.1f} MiB")
        client.close()


if __name__ == "__main__":
    # A third argument "tally" measures with the tally only (the store alone takes minutes
    # at 50,000 scans a proposal).
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000, int(sys.argv[2]) if len(sys.argv) > 2 else 20,
         (True,) if sys.argv[3:] == ["tally"] else (False, True))

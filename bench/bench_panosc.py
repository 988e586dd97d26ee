"""The PaNOSC search API on N datasets: what a federated portal's requests cost.

Loads ``--datasets`` N (default 20,000) datasets into SecantusDB, ``--published`` of them
(default 30 %) published, one a minute (so the tally's hours hold ~60 each), each with 20
numeric metadata keys in mm, a ``photon_energy`` in eV or keV and a text ``sample_state``.
Then, through the app in-process (``create_app``, production settings: tally on), median and
max over ``--rounds`` of: a page of 50 (``/panosc-api/Datasets``), the count
(``/Datasets/count``), a page of 50 with a parameter condition with a unit
(``photon_energy`` 8000-10000 eV, the reference's own shape), and a ranked ``query``; and the
store's own page of 50 published datasets (pymongo, the same index) for comparison.

    .venv/bin/python bench/bench_panosc.py --datasets 20000
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the project beside it
    sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient
from pymongo import DESCENDING, MongoClient

from scanlog_api import ScanlogSettings, create_app
from scizoo.core import DATASET_COLLECTION, to_si
from scizoo.testing import EmbeddedMongo
from tests.system.test_scan_api import _dataset


def _entry(value: float, unit: str) -> dict[str, Any]:
    si = to_si(value, unit)
    assert si is not None
    return {"value": value, "unit": unit, "valueSI": si.value, "unitSI": si.unit}


def _documents(n: int, published: float) -> list[dict[str, Any]]:
    rng = random.Random(1)
    base = _dataset(0, "A")
    docs = []
    for i in range(n):
        unit = rng.choice(["eV", "keV"])
        energy = rng.uniform(5, 15) * (1000 if unit == "eV" else 1)
        meta = {f"k{j}": _entry(rng.random(), "mm") for j in range(20)}
        meta |= {"photon_energy": _entry(energy, unit), "sample_state": {"value": rng.choice(["solid", "liquid"]),
                                                                          "unit": ""}}
        docs.append({**base, "_id": f"p/{i}", "pid": f"p/{i}", "isPublished": rng.random() < published,
                     "creationTime": base["creationTime"] - timedelta(minutes=i), "scientificMetadata": meta})
    return docs


def _timed(call: Any, rounds: int) -> tuple[float, float, Any]:
    spent, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = call()
        spent.append(time.perf_counter() - start)
    return statistics.median(spent) * 1000, max(spent) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, default=20_000)
    parser.add_argument("--published", type=float, default=0.3)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, EmbeddedMongo(folder) as mongo:
        client: MongoClient[dict[str, Any]] = MongoClient(mongo.uri, tz_aware=True)
        datasets = client["bench"][DATASET_COLLECTION]
        docs = _documents(args.datasets, args.published)
        start = time.perf_counter()
        for i in range(0, len(docs), 5000):
            datasets.insert_many(docs[i:i + 5000])
        print(f"loaded {len(docs):,} datasets in {time.perf_counter() - start:.1f} s", flush=True)
        with TestClient(create_app(ScanlogSettings(mongo_uri=mongo.uri, database="bench"))) as api:
            api.app.state.indexes_ready.wait(600)  # type: ignore[attr-defined]
            api.app.state.tally.ready.wait(600)  # type: ignore[attr-defined]

            def get(path: str) -> Any:
                answer = api.get(f"/panosc-api{path}")
                assert answer.status_code == 200, answer.text
                return answer.json()

            first_page = f"/Datasets?filter={quote(json.dumps({'limit': 50}))}"
            ranked = f"/Datasets?query=sim%20ascan&filter={quote(json.dumps({'limit': 50}))}"
            energy = {"limit": 50, "include": [{"relation": "parameters", "scope": {"where": {"and": [
                {"name": "photon_energy"}, {"value": {"between": [8000, 10000]}}, {"unit": "eV"}]}}}]}
            cases = [
                ("store: page of 50 published (pymongo)", lambda: list(datasets.find({"isPublished": True}).sort(
                    [("creationTime", DESCENDING), ("_id", DESCENDING)]).limit(50))),
                ("API: page of 50", lambda: get(first_page)),
                ("API: count", lambda: get("/Datasets/count")),
                ("API: page of 50, photon_energy 8000-10000 eV",
                 lambda: get(f"/Datasets?filter={quote(json.dumps(energy))}")),
                ("API: page of 50 ranked by query", lambda: get(ranked)),
            ]
            for name, call in cases:
                median, most, result = _timed(call, args.rounds)
                size = result if isinstance(result, dict) else f"{len(result)} items"
                print(f"{name}: median {median:.0f} ms, max {most:.0f} ms ({size})", flush=True)
        client.close()


if __name__ == "__main__":
    main()

"""scidog: type-ahead over a Tango database with 10,000 devices, and the cost of the active
configuration on a capture.

1. Device search through scidog's API (DbGetDeviceWideList with the typed text) against
   the naive way: list every device and filter in the client (what a page would do with
   `get_device_name("*", "*")`).
2. Capture overhead: reading the active configuration from the follower's memory against
   a store read per scan (active doc + configuration doc), in the same run.

    .venv/bin/python bench/bench_scidog.py [devices]
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient
from pydantic import SecretStr
from pymongo import MongoClient

from scidog import ConfigStore, ScidogSettings, create_app
from scifish import ActiveConfig
from scifish.testing import TangoDatabase
from scizoo.core import BeamlineConfig
from scizoo.testing import EmbeddedMongo
from scizoo.web import TokenUser


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def main(count: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-scidog-"))
    rng = random.Random(7)
    with TangoDatabase(folder / "tango") as tango_db, EmbeddedMongo(folder / "store") as mongo:
        started = time.monotonic()
        kinds = ["mot", "ct", "temp", "valve", "gauge", "cam", "diode", "mono"]
        names = [f"b{n % 20:02d}/{kinds[n % len(kinds)]}/{n:05d}" for n in range(count)]
        tango_db.register(names, "Sim", "Sim/bench")
        print(f"registered {count:,} devices in {time.monotonic() - started:.1f} s")
        settings = ScidogSettings(mongo_uri=mongo.uri, tango_host=tango_db.tango_host,
                                  tokens={"t": TokenUser(user="u", admin=True)})  # browsing Tango is for staff
        queries = [f"{kinds[rng.randrange(len(kinds))]}/{rng.randrange(count):05d}"[: rng.randrange(4, 10)]
                   for _ in range(200)]
        with TestClient(create_app(settings)) as client:
            api: list[float] = []
            for q in queries:
                t0 = time.perf_counter()
                answer = client.get(f"/api/tango/devices?q={q}&limit=20", headers={"Authorization": "Bearer t"})
                api.append((time.perf_counter() - t0) * 1000)
                assert answer.status_code == 200
        db = tango_db.database()
        naive: list[float] = []
        for q in queries[:50]:
            t0 = time.perf_counter()
            everything = list(db.get_device_name("*", "*"))
            _ = [d for d in everything if q in d][:20]
            naive.append((time.perf_counter() - t0) * 1000)
        print(f"device search over {count:,} devices, 200 queries:")
        print(f"  scidog (DbGetDeviceWideList *text*): p50 {statistics.median(api):6.1f} ms  p95 {pct(api, .95):6.1f} ms")
        print(f"  naive (list all, filter):            p50 {statistics.median(naive):6.1f} ms  "
              f"p95 {pct(naive, .95):6.1f} ms")

        store = ConfigStore(SecretStr(mongo.uri), "scicat")
        config = BeamlineConfig.model_validate({"beamline": "sim", "name": "day", "attributes": [
            {"name": f"a{i}", "device": f"b00/mot/{i:05d}", "attribute": "position"} for i in range(40)]})
        store.create(config, "bench", datetime.now(UTC))
        follower = ActiveConfig(mongo.uri, "scicat", "sim", folder / "active.json").start()
        n = 2000
        t0 = time.perf_counter()
        for _ in range(n):
            follower.current()
        cached = (time.perf_counter() - t0) / n * 1e6
        client_ = MongoClient(mongo.uri, tz_aware=True)
        t0 = time.perf_counter()
        for _ in range(200):
            active = client_["scicat"]["ScidogActive"].find_one({"_id": "sim"})
            doc = client_["scicat"]["ScidogConfiguration"].find_one({"_id": f"sim/{active['name']}"})
            BeamlineConfig.model_validate({**doc["config"], "revision": doc["revision"]})
        per_scan = (time.perf_counter() - t0) / 200 * 1e6
        print("active configuration per capture (40 entries):")
        print(f"  follower's memory: {cached:8.1f} us   store read per scan: {per_scan:8.1f} us   "
              f"({per_scan / cached:.0f}x)")
        follower.close()
        store.close()
        client_.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)

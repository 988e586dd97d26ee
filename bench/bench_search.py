"""Search at scale: metadata conditions with units, and facets, on N datasets of realistic shape.

Loads ``--datasets`` N (default 1,000,000) raw datasets into SecantusDB, built by scizoo.core's
builders from scan messages as scicow builds them (``build_dataset``): 40 scientificMetadata
keys each (the scan's own keys, two motors whose values are ``[first, last]`` lists, two
channels, 26 configured entries of numbers with units, numbers without, text and a list),
proposals of 200 and of 10,000 scans (half the datasets in each kind), two beamlines whose
staff group reads every scan (``accessGroups``). Building every document with pydantic costs
~0.4 ms, so the first ``--variants`` messages are built and each dataset is one of them with
its own pid, times, proposal and groups (values repeat with that period). Bulk insert in
batches of 5,000, with scizoo's indexes in place as ingestion has them; the load time is printed.

Then, each measured the same way in the same run on the same store, p50/p95 over ``--rounds``:

(a) a page of 50 with its total count, two numeric conditions with units
    (``photon_energy`` 8-10 keV, ``sample_temperature`` < 20 K) inside one proposal, for a
    proposal of 200 and one of 10,000, read by a member (aim: p95 < 150 ms);
(b) the same across every scan a staff member may read, one condition matching ~1 %
    (``photon_energy`` 12-12.2 keV) (aim: p95 < 500 ms);
(c) facets of those selections (``/api/scans/facets`` with a keV histogram) (aim: < 500 ms).

Through: the API (``create_app`` in-process, FastAPI TestClient, production settings: tally on);
the store's own query of the same selection (``ScanStore.page``/``count``/``facet_sample``
on the API's compiled branches, without the API's bound on the selection); the naive way
(fetch the selection by an indexed field and filter in Python); and the SciCat backend's
``fullquery`` + ``fullfacet`` for the same conditions when a built checkout is given
(``--scicat PATH``, see docs/RECIPES: ``npm ci && npm run build``), started last on the same
store. Counts are compared: every way must find the same scans.

Each measurement runs ``--rounds`` times or until ``--budget`` seconds are spent (at least once);
``--ways`` picks which ways besides the naive one are asked (a way whose one request scans the
collection several times can take minutes at 100,000 datasets on SecantusDB).

Run: .venv/bin/python bench/bench_search.py --datasets 20000 [--rounds 20] [--scicat /tmp/scicat-src]
     [--ways api,store,shaped,scicat]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the project beside it
    sys.path.insert(0, str(ROOT))

import requests
from fastapi.testclient import TestClient
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from scanlog_api import ScanlogSettings, TokenUser, build_branches, create_app
from scanlog_api._conditions import conditions_filters, keys_with_units, parse_conditions
from scanlog_api._facets import MAX_FACET_SCAN, count_facets, facet_fields, facet_keys
from scizoo.core import (
    DATASET_COLLECTION,
    CatalogueSettings,
    DataFile,
    Proposal,
    RecordedEntry,
    ScanBlock,
    ScanColumn,
    ScanMetadata,
    build_dataset,
    ensure_indexes,
    to_si,
)
from scizoo.testing import EmbeddedMongo

Doc = dict[str, Any]
#: A condition as (key, op, lo, hi or None, unit).
Cond = tuple[str, str, float, float | None, str]
BEAMLINES = ("bl0", "bl1")
STAFF = "staff"
BIG, SMALL = 10_000, 200
BATCH = 5_000
BASE = datetime(2024, 1, 1, tzinfo=UTC)
WAYS = ("api", "store", "shaped", "scicat")

#: (key, op, lo, hi, unit): the conditions of each question, written once for every way.
COND_A: list[Cond] = [("photon_energy", "between", 8, 10, "keV"), ("sample_temperature", "lt", 20, None, "K")]
COND_B: list[Cond] = [("photon_energy", "between", 12, 12.2, "keV")]


# --- the datasets --------------------------------------------------------------------------------

def _num(rng: random.Random, lo: float, hi: float, digits: int = 4) -> float:
    return float(f"{rng.uniform(lo, hi):.{digits}g}")


def _entries(rng: random.Random) -> list[RecordedEntry]:
    """26 configured entries: numbers with units, numbers without, text, a list."""
    temperature = _num(rng, 4, 30) if rng.random() < 0.3 else _num(rng, 30, 300)
    numbers = {  # name: (group, value, unit)
        "photon_energy": ("beam", _num(rng, 5, 25), "keV"),
        "sample_temperature": ("sample", temperature, "K"),
        "ring_current": ("beam", _num(rng, 395, 401), "mA"),
        "undulator_gap": ("beam", _num(rng, 5, 30), "mm"),
        "mirror_pitch": ("beam", _num(rng, 2, 4), "mrad"),
        "slit_h": ("beam", _num(rng, 10, 500), "um"),
        "slit_v": ("beam", _num(rng, 10, 500), "um"),
        "beam_size_h": ("beam", _num(rng, 1, 100), "um"),
        "beam_size_v": ("beam", _num(rng, 1, 100), "um"),
        "flux": ("beam", float(f"{10 ** rng.uniform(9, 13):.3g}"), "1/s"),
        "detector_distance": ("detector", _num(rng, 0.1, 2), "m"),
        "exposure_time": ("detector", _num(rng, 1, 1000), "ms"),
        "chamber_pressure": ("sample", float(f"{10 ** rng.uniform(-9, -5):.3g}"), "mbar"),
        "sample_x": ("sample", _num(rng, -10, 10), "mm"),
        "sample_y": ("sample", _num(rng, -10, 10), "mm"),
        "sample_z": ("sample", _num(rng, -5, 5), "mm"),
        "sample_theta": ("sample", _num(rng, 0, 180), "deg"),
        "cryo_flow": ("sample", _num(rng, 0, 10), "l/min"),
    }
    out = [RecordedEntry(name=name, group=group, device=f"b/{group}/1", attribute=name, value=value, unit=unit)
           for name, (group, value, unit) in numbers.items()]
    out += [
        RecordedEntry(name="attenuator_index", group="beam", device="b/att/1", attribute="index",
                      value=rng.randrange(8)),
        RecordedEntry(name="harmonic", group="beam", device="b/und/1", attribute="harmonic",
                      value=rng.choice((1, 3, 5, 7, 9))),
        RecordedEntry(name="shutter", group="beam", device="b/shutter/1", attribute="State",
                      value="open" if rng.random() < 0.95 else "closed", raw_value=0),
        RecordedEntry(name="sample_name", group="sample", device="b/sample/1", attribute="name",
                      value=f"sample-{rng.randrange(100):03d}"),
        RecordedEntry(name="monochromator", group="beam", device="b/mono/1", attribute="crystal",
                      value=rng.choice(("Si111", "Si311"))),
        RecordedEntry(name="detector_mode", group="detector", device="b/det/1", attribute="mode",
                      value=rng.choice(("single", "burst", "continuous"))),
        RecordedEntry(name="filter", group="beam", device="b/filter/1", attribute="name",
                      value=rng.choice(("none", "Al 10um", "Cu 5um"))),
        RecordedEntry(name="attenuators", group="beam", device="b/att/1", attribute="thickness",
                      value=[rng.choice((0, 25, 50, 100)) for _ in range(4)], unit="um"),
    ]
    return out


def variants(count: int, seed: int = 20) -> list[Doc]:
    """``count`` Dataset documents, each built by ``build_dataset`` from a scan message."""
    rng = random.Random(seed)
    settings = CatalogueSettings(pid_prefix="20.500.12345", staff_groups=dict.fromkeys(BEAMLINES, STAFF))
    proposal = Proposal(proposalId="20240000", title="bench", email="pi@example.org", pi_firstname="Ada",
                        pi_lastname="Lovelace")
    out = []
    for i in range(count):
        start = BASE + timedelta(seconds=30 * i)
        beamline = BEAMLINES[i % 2]
        points = rng.randrange(10, 500)
        message = ScanMetadata(
            message_id=f"bench-{i}", beamline=beamline, source="sardana", proposal_id="20240000",
            data_path=f"/data/{beamline}/20240000", config_name="default", config_revision=3, produced_at=start,
            scan=ScanBlock(
                id=str(i), title=f"ascan mot01 0 10 {points} 0.1", start=start, end=start + timedelta(seconds=25),
                points=points, user="ada",
                files=[DataFile(path=f"/data/{beamline}/20240000/scan_{i:06d}.h5", size=rng.randrange(10**6, 10**9))],
                motors=[ScanColumn(label=m, name=f"motor/{m}", unit="mm", first=0.0, last=_num(rng, 1, 10),
                                   min=0.0, max=10.0) for m in ("mot01", "mot02")],
                channels=[ScanColumn(label=c, name=f"expchan/{c}", unit="", last=_num(rng, 0, 1e5), min=0.0,
                                     max=1e5) for c in ("ct01", "ct02")]),
            entries=_entries(rng))
        doc = build_dataset(message, proposal, settings).to_mongo()
        assert len(doc["scientificMetadata"]) == 40, sorted(doc["scientificMetadata"])
        out.append(doc)
    return out


def leaves(value: Any) -> int:
    """Scalar leaves under a value, a list's elements each (what a wildcard index keys)."""
    if isinstance(value, dict):
        return sum(leaves(v) for v in value.values()) or 1
    if isinstance(value, list):
        return sum(leaves(v) for v in value) or 1
    return 1


def proposals(n: int) -> list[tuple[str, int]]:
    """(proposal id, scans): half the datasets in proposals of 10,000 (at least one when
    n >= 20,000), the rest in proposals of 200; shuffled in time."""
    big = (n // 2) // BIG
    sizes = [BIG] * big
    rest = n - big * BIG
    sizes += [SMALL] * (rest // SMALL) + ([rest % SMALL] if rest % SMALL else [])
    random.Random(7).shuffle(sizes)
    return [(f"2024{k:05d}", size) for k, size in enumerate(sizes)]


def datasets(n: int, pool: list[Doc]) -> Iterator[Doc]:
    """N datasets in time order, each proposal's scans one after the other (a beamtime)."""
    i = 0
    for k, (proposal, size) in enumerate(proposals(n)):
        beamline = BEAMLINES[k % 2]
        for _ in range(size):
            when = BASE + timedelta(seconds=30 * i)
            pid = f"20.500.12345/bench-{i:08d}"
            yield {**pool[i % len(pool)], "_id": pid, "pid": pid, "proposalIds": [proposal], "ownerGroup": proposal,
                   "instrumentIds": [beamline], "creationLocation": beamline, "keywords": [beamline, "sardana"],
                   "sourceFolder": f"/data/{beamline}/{proposal}", "creationTime": when + timedelta(seconds=25),
                   "startTime": when, "endTime": when + timedelta(seconds=25), "createdAt": when, "updatedAt": when}
            i += 1


def load(collection: Any, n: int, pool: list[Doc]) -> float:
    """Insert in batches of 5,000 (built in this thread while a second one inserts); seconds."""
    batches: queue.Queue[list[Doc] | None] = queue.Queue(maxsize=2)
    failed: list[BaseException] = []

    def insert() -> None:
        while (batch := batches.get()) is not None:
            try:
                collection.insert_many(batch, ordered=False)
            except PyMongoError as err:  # raised after the load, never swallowed
                failed.append(err)

    start = time.monotonic()
    writer = threading.Thread(target=insert)
    writer.start()
    batch: list[Doc] = []
    for done, doc in enumerate(datasets(n, pool), 1):
        batch.append(doc)
        if len(batch) == BATCH:
            batches.put(batch)
            batch = []
            if done % 100_000 == 0:
                print(f"  {done:,} inserted ({time.monotonic() - start:.0f} s)", flush=True)
    if batch:
        batches.put(batch)
    batches.put(None)
    writer.join()
    if failed:
        raise failed[0]
    return time.monotonic() - start


# --- the ways to ask ---------------------------------------------------------------------------

def where(conds: list[Cond]) -> list[str]:
    return [f"{k}:{op}:{lo}:{hi}:{u}" if op == "between" else f"{k}:{op}:{lo}:{u}" for k, op, lo, hi, u in conds]


def python_test(conds: list[Cond]) -> Callable[[Doc], bool]:
    """The conditions as plain Python on a document (SciCat's meaning: valueSI, same unitSI)."""
    tests = []
    for key, op, lo, hi, unit in conds:
        si_lo, si_hi = to_si(lo, unit), (to_si(hi, unit) if hi is not None else None)
        assert si_lo is not None
        tests.append((key, op, si_lo.value, si_hi.value if si_hi else None, si_lo.unit))

    def test(doc: Doc) -> bool:
        meta = doc.get("scientificMetadata") or {}
        for key, op, lo, hi, unit_si in tests:
            entry = meta.get(key)
            if not isinstance(entry, dict) or entry.get("unitSI") != unit_si:
                return False
            v = entry.get("valueSI")
            if not isinstance(v, (int, float)):
                return False
            if not (lo < v < hi if op == "between" and hi is not None else v < lo if op == "lt" else False):
                return False
        return True
    return test


def readable(user: TokenUser, doc: Doc) -> bool:
    groups = set(user.groups)
    return (doc.get("ownerGroup") in groups or bool(groups & set(doc.get("accessGroups") or []))
            or doc.get("isPublished") is True)


def scicat_fields(conds: list[Cond]) -> list[Doc]:
    relation = {"between": "RANGE", "lt": "LESS_THAN"}
    return [{"lhs": k, "relation": relation[op], "rhs": [lo, hi] if op == "between" else lo, "unit": u}
            for k, op, lo, hi, u in conds]


def facets_of(found: list[Doc]) -> tuple[Counter[str], Counter[str], Counter[int]]:
    """The naive facets: counts per beamline, proposal and whole keV."""
    return (Counter(b for d in found for b in d["instrumentIds"]), Counter(p for d in found for p in d["proposalIds"]),
            Counter(int(d["scientificMetadata"]["photon_energy"]["value"]) for d in found))


def staged(branch: Doc) -> list[Doc]:
    """A branch as two $match stages: its plain fields first (what an index serves), then its
    logical operators; the same documents as ``find(branch)``."""
    flat = {k: v for k, v in branch.items() if not k.startswith("$")}
    rest = {k: v for k, v in branch.items() if k.startswith("$")}
    return [{"$match": flat}] + ([{"$match": rest}] if rest else [])


def measure(name: str, run: Callable[[], Any], rounds: int, budget_s: float, aim_ms: float | None = None) -> Any:
    """Run ``rounds`` times (at least once; fewer when ``budget_s`` is spent) and print p50/p95."""
    times: list[float] = []
    result = None
    spent = time.monotonic()
    while len(times) < rounds and (not times or time.monotonic() - spent < budget_s):
        t = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - t)
    times.sort()
    p95 = times[max(0, math.ceil(0.95 * len(times)) - 1)]
    verdict = "" if aim_ms is None else ("  MET" if 1000 * p95 < aim_ms else f"  NOT MET (aim {aim_ms:.0f} ms)")
    print(f"  {name}: p50 {1000 * statistics.median(times):,.1f} ms  p95 {1000 * p95:,.1f} ms  "
          f"(n={len(times)}){verdict}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--variants", type=int, default=10_000, help="messages built by the builders")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per measurement, at most (>= 1 round)")
    parser.add_argument("--scicat", type=Path, default=Path("/tmp/scicat-src"),
                        help="a built scicat-backend-next checkout (npm ci && npm run build)")
    parser.add_argument("--scicat-port", type=int, default=3999)
    parser.add_argument("--scicat-units", action="store_true",
                        help="also check which SI units SciCat's search finds (reads the collection 4 times)")
    parser.add_argument("--ways", type=lambda text: text.split(","), default=list(WAYS),
                        help=f"besides the naive way, which to ask (comma-separated; default {','.join(WAYS)})")
    parser.add_argument("--questions", type=lambda text: text.split(","), default=["a-small", "a-big", "b"],
                        help="which to ask (comma-separated: a-small, a-big, b; default all). At 1,000,000 the "
                             "naive way's (b) fetches every dataset (about half an hour here)")
    parser.add_argument("--no-tally", action="store_true",
                        help="the API without its tally (SCANLOG_TALLY=false): the tally's start reads the whole "
                             "collection, which SecantusDB holds in memory at once (over 24 GB at 1,000,000)")
    args = parser.parse_args()
    n = args.datasets
    layout = proposals(n)
    big = next((p for p, size in layout if size == BIG), None)
    small = next(p for p, size in layout if size == SMALL)
    member = TokenUser(user="pi", groups=[small] + ([big] if big else []))
    staff = TokenUser(user="staff", groups=[STAFF])
    tokens = {"pi": member, "staff": staff}
    print(f"{n:,} datasets: {sum(1 for _, s in layout if s == BIG)} proposals of {BIG:,}, "
          f"{sum(1 for _, s in layout if s == SMALL)} of {SMALL}; member of {small}" + (f" and {big}" if big else ""))

    with tempfile.TemporaryDirectory(prefix="bench-search-") as folder, EmbeddedMongo(folder) as mongo:
        client: MongoClient[Doc] = MongoClient(mongo.uri, tz_aware=True)
        db = client["bench"]
        collection = db[DATASET_COLLECTION]
        start = time.monotonic()
        pool = variants(min(n, args.variants))
        print(f"built {len(pool):,} datasets with build_dataset in {time.monotonic() - start:.1f} s "
              "(each dataset is one of them with its own pid, times, proposal and groups); "
              f"{statistics.mean(leaves(d['scientificMetadata']) for d in pool):.0f} scientificMetadata leaves "
              "each (the keys a wildcard index on it holds per dataset)")
        start = time.monotonic()
        ensure_indexes(db)
        print(f"indexes: {', '.join(i['name'] for i in collection.list_indexes())} "
              f"({time.monotonic() - start:.1f} s)")
        seconds = load(collection, n, pool)
        print(f"LOAD: {n:,} datasets in {seconds:.1f} s = {n / seconds:,.0f} datasets/s "
              f"(batches of {BATCH:,}, indexes in place)", flush=True)

        questions: list[tuple[str, TokenUser, str | None, list[Cond], float]] = []
        if "a-small" in args.questions:
            questions.append((f"(a) proposal of {SMALL}, 2 conditions", member, small, COND_A, 150.0))
        if big and "a-big" in args.questions:
            questions.append((f"(a) proposal of {BIG:,}, 2 conditions", member, big, COND_A, 150.0))
        if "b" in args.questions:
            questions.append(("(b) every scan staff may read, ~1 %", staff, None, COND_B, 500.0))
        print(f"questions asked: {', '.join(q[0] for q in questions) or 'none'}")

        # The truth, the naive way: fetch the selection by an indexed field, filter in Python.
        truth: dict[str, tuple[int, list[str]]] = {}

        def naive(user: TokenUser, proposal: str | None, conds: list[Cond]) -> tuple[int, list[Doc]]:
            test = python_test(conds)
            found = [d for d in collection.find({"proposalIds": proposal} if proposal else {})
                     if readable(user, d) and test(d)]
            found.sort(key=lambda d: (d["creationTime"], d["_id"]), reverse=True)
            return len(found), found

        def chosen(way: str) -> list[Any]:
            if way in args.ways:
                return questions
            print(f"  ({way}: not asked in this run: --ways {','.join(args.ways)})")
            return []

        print("\nnaive: fetch the selection (by proposal, or everything), filter and sort in Python")
        for name, user, proposal, conds, _aim in questions:
            count, found = measure(f"{name}: page of 50 + count", lambda u=user, p=proposal, c=conds: naive(u, p, c),
                                   min(args.rounds, 5), args.budget)
            truth[name] = (count, [d["_id"] for d in found[:50]])
            measure(f"{name}: facets (fetch, filter, count beamline, proposal, keV bins in Python)",
                    lambda u=user, p=proposal, c=conds: facets_of(naive(u, p, c)[1]), min(args.rounds, 5), args.budget)
            print(f"    matches: {count:,}")

        settings = ScanlogSettings(mongo_uri=mongo.uri, database="bench", tokens=tokens, tally=not args.no_tally)
        app = create_app(settings)
        with TestClient(app) as api:
            start = time.monotonic()
            app.state.indexes_ready.wait()
            store = app.state.store
            if store.tally is not None:
                assert store.tally.ready.wait(3600)
            print(f"\nAPI (in-process, tally {'on' if store.tally else 'off'}): ready in "
                  f"{time.monotonic() - start:.1f} s")
            for name, user, proposal, conds, aim in chosen("api"):
                params: list[tuple[str, str]] = [("where", w) for w in where(conds)]
                if proposal:
                    params.append(("proposal", proposal))
                headers = {"Authorization": f"Bearer {user.user}"}
                answer = measure(f"{name}: GET /api/scans (50 + count)",
                                 lambda p=params, h=headers: api.get("/api/scans", params=[*p, ("limit", "50")],
                                                                     headers=h),
                                 args.rounds, args.budget, aim)
                expected = truth[name]
                if answer.status_code != 200:
                    print(f"    HTTP {answer.status_code}: {answer.json().get('detail')}")
                else:
                    page = answer.json()
                    agree = page["count"] == expected[0] and [r["pid"] for r in page["data"]] == expected[1]
                    print(f"    count {page['count']:,}; {'agrees' if agree else 'DISAGREES'} with the naive way")
                facets = measure(f"{name}: GET /api/scans/facets (keV histogram)",
                                 lambda p=params, h=headers: api.get(
                                     "/api/scans/facets", params=[*p, ("key", "photon_energy"), ("unit", "keV")],
                                     headers=h),
                                 args.rounds, args.budget, 500.0)
                if facets.status_code != 200:
                    print(f"    HTTP {facets.status_code}: {facets.json().get('detail')}")
                else:
                    body = facets.json()
                    print(f"    counted {body['counted']:,} of {body['of']:,}"
                          f"{'' if body['of'] == expected[0] else ' (DISAGREES with the naive count)'}")

            print("\nstore: ScanStore.page + count / facet_sample on the API's compiled branches "
                  "(no bound on the selection)")
            for name, user, proposal, conds, aim in chosen("store"):
                parsed = parse_conditions(where(conds))
                wanted = facet_keys(["photon_energy"], ["keV"])

                def compiled(u: TokenUser = user, p: str | None = proposal, c: Any = parsed) -> list[Doc]:
                    found = store.key_unit_sets(build_branches(u, proposal=p), keys_with_units(c))
                    units = {k: e for k, (e, _) in found.items()}
                    return build_branches(u, proposal=p, conditions=conditions_filters(c, units))

                def page(branches_of: Callable[[], list[Doc]] = compiled) -> tuple[int, list[Doc]]:
                    branches = branches_of()
                    return store.count(branches), store.page(branches, "creationTime", "desc", 0, 50)

                count, docs = measure(f"{name}: page of 50 + count (with the units look-up)", page,
                                      args.rounds, args.budget, aim)
                agree = count == truth[name][0] and [d["_id"] for d in docs] == truth[name][1]
                print(f"    count {count:,}; {'agrees' if agree else 'DISAGREES'} with the naive way")

                def facet(branches_of: Callable[[], list[Doc]] = compiled, w: Any = wanted) -> Any:
                    docs, total = store.facet_sample(branches_of(), None, facet_fields(w), MAX_FACET_SCAN)
                    return count_facets(docs, w, total=total)

                measure(f"{name}: facets", facet, args.rounds, args.budget, 500.0)

            print("\nstore, proposed shape: each branch as aggregate([$match its flat fields, $match its "
                  "$and/$or, ...]) (an index serves the first stage on SecantusDB; MongoDB merges the two)")
            for name, user, proposal, conds, aim in chosen("shaped"):
                parsed = parse_conditions(where(conds))
                wanted = facet_keys(["photon_energy"], ["keV"])
                units = {k: e for k, (e, _) in store.key_unit_sets(build_branches(user, proposal=proposal),
                                                                     keys_with_units(parsed)).items()}
                branches = build_branches(user, proposal=proposal, conditions=conditions_filters(parsed, units))

                def two_stage(tail: list[Doc], b: list[Doc] = branches) -> list[list[Doc]]:
                    return [list(collection.aggregate([*staged(branch), *tail])) for branch in b]

                def shaped_page() -> tuple[int, list[Doc]]:
                    counts = two_stage([{"$count": "n"}])
                    runs = two_stage([{"$sort": {"creationTime": -1, "_id": -1}}, {"$limit": 50}])
                    rows = sorted((d for run in runs for d in run), key=lambda d: (d["creationTime"], d["_id"]),
                                  reverse=True)[:50]
                    return sum(c[0]["n"] if c else 0 for c in counts), rows

                count, docs = measure(f"{name}: page of 50 + count (units look-up outside)", shaped_page,
                                      args.rounds, args.budget, aim)
                agree = count == truth[name][0] and [d["_id"] for d in docs] == truth[name][1]
                print(f"    count {count:,}; {'agrees' if agree else 'DISAGREES'} with the naive way")

                def shaped_facets(w: Any = wanted) -> Any:
                    fields = dict.fromkeys((*facet_fields(w), "creationTime"), 1)
                    runs = two_stage([{"$sort": {"creationTime": -1, "_id": -1}}, {"$limit": MAX_FACET_SCAN},
                                      {"$project": fields}])
                    docs = [d for run in runs for d in run]
                    return count_facets(docs, w, total=len(docs))

                measure(f"{name}: facets", shaped_facets, args.rounds, args.budget, 500.0)
        if chosen("scicat"):
            scicat(args, mongo.uri, questions, truth, collection)
        client.close()


# --- the SciCat backend, last (its start adds its own indexes to the collection) ---------------

def scicat(args: argparse.Namespace, uri: str, questions: list[Any], truth: dict[str, Any], collection: Any) -> None:
    checkout: Path = args.scicat
    if not (checkout / "dist" / "main.js").exists():
        print(f"\nSciCat backend: skipped, no built checkout at {checkout} (fetch SciCatProject/scicat-backend-next, "
              "npm ci && npm run build: see shared RECIPES)")
        return
    port = args.scicat_port
    folder = Path(tempfile.mkdtemp(prefix="bench-search-scicat-"))
    accounts = folder / "accounts.json"
    password = "bench-only-pw"
    accounts.write_text(json.dumps([{"username": u, "password": password, "email": f"{u}@example.org", "role": r,
                                     "global": False} for u, r in (("admin", "admin"), ("staff", STAFF))]))
    env = {**os.environ, "MONGODB_URI": uri.replace("/?", "/bench?"), "PORT": str(port), "JWT_SECRET": "bench",
           "EXPRESS_SESSION_SECRET": "bench", "ADMIN_GROUPS": "admin", "FUNCTIONAL_ACCOUNTS_FILE": str(accounts),
           "ACCESS_GROUPS_STATIC_ENABLED": "true", "ELASTICSEARCH_ENABLED": "no", "RABBITMQ_ENABLED": "no",
           "PUBLISHED_DATA_CONFIG_FILE": "publishedDataConfig.example.json",
           "PROPOSAL_TYPES_FILE": "proposalTypes.example.json"}
    with open(folder / "backend.log", "w") as log:
        start = time.monotonic()
        node = subprocess.Popen(["node", "dist/main"], cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            api = f"http://127.0.0.1:{port}/api/v3"
            tokens = {u: _login(api, u, password) for u in ("admin", "staff")}
            print(f"\nSciCat backend ({checkout}): up in {time.monotonic() - start:.1f} s; fullquery (limit 50, "
                  "creationTime desc) + fullfacet (count and facets); its log: " + str(folder / "backend.log"))
            for name, user, proposal, conds, aim in questions:
                # A proposal member in SciCat is a user whose groups hold the proposal; the bench has
                # functional accounts only (admin, staff), so (a) is asked as admin with the proposal filter.
                who = "admin" if proposal else "staff"
                auth = {"Authorization": f"Bearer {tokens[who]}"}
                fields: Doc = {"scientific": scicat_fields(conds)}
                if proposal:
                    fields["proposalIds"] = [proposal]

                def ask(f: Doc = fields, a: Doc = auth) -> tuple[Any, Any]:
                    rows = requests.get(f"{api}/datasets/fullquery", headers=a, timeout=600, params={
                        "fields": json.dumps(f), "limits": json.dumps({"limit": 50, "skip": 0,
                                                                        "order": "creationTime:desc"})})
                    facets = requests.get(f"{api}/datasets/fullfacet", headers=a, timeout=600, params={
                        "fields": json.dumps(f), "facets": json.dumps(["creationLocation", "proposalIds",
                                                                       "ownerGroup", "keywords"])})
                    return rows, facets

                rows, facets = measure(f"{name} [{who}]: fullquery + fullfacet", ask, args.rounds, args.budget, aim)
                if not rows.ok or not facets.ok:
                    print(f"    HTTP {rows.status_code} / {facets.status_code}: {rows.text[:200]} {facets.text[:200]}")
                    continue
                counted = (facets.json()[0].get("all") or [{}])[0].get("totalSets", 0)
                pids = [r["pid"] for r in rows.json()]
                agree = counted == truth[name][0] and pids == truth[name][1]
                print(f"    count {counted:,}, page {len(pids)}; {'agrees' if agree else 'DISAGREES'} with the "
                      f"naive way ({truth[name][0]:,})")
            if args.scicat_units:
                units_check(api, tokens["admin"], collection)
        finally:
            node.terminate()
            node.wait(30)


#: One condition per kind of SI unit: base units (K, m) and derived ones (J, Pa).
UNIT_CHECKS: list[list[Cond]] = [
    [("sample_temperature", "lt", 20, None, "K")], [("detector_distance", "lt", 0.5, None, "m")],
    [("photon_energy", "between", 12, 12.2, "keV")], [("chamber_pressure", "lt", 1e-7, None, "mbar")]]


def units_check(api: str, token: str, collection: Any) -> None:
    """Which units SciCat's unit-aware search finds in what scizoo stored: its count against a
    Python reading of the same documents (each a read of the whole collection)."""
    print("  SciCat's unit-aware search on scizoo's valueSI/unitSI, one condition each (found / there):")
    for conds in UNIT_CHECKS:
        there = sum(1 for d in collection.find({}) if python_test(conds)(d))
        answer = requests.get(f"{api}/datasets/fullfacet", headers={"Authorization": f"Bearer {token}"}, timeout=600,
                              params={"fields": json.dumps({"scientific": scicat_fields(conds)}), "facets": "[]"})
        found = (answer.json()[0].get("all") or [{}])[0].get("totalSets", 0) if answer.ok else answer.status_code
        stored = (collection.find_one({}) or {})["scientificMetadata"][conds[0][0]].get("unitSI")
        print(f"    {where(conds)[0]}: {found} / {there:,} (scizoo's unitSI {stored!r})")


def _login(api: str, user: str, password: str) -> str:
    for _ in range(600):
        try:
            answer = requests.post(f"{api}/auth/login", json={"username": user, "password": password}, timeout=5)
            if answer.ok:
                return str(answer.json()["id"])
        except requests.RequestException:
            pass
        time.sleep(1)
    raise SystemExit(f"the SciCat backend did not let {user} log in within 10 minutes")


if __name__ == "__main__":
    main()

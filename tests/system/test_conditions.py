"""Metadata conditions on the real store: what the API selects agrees with a plain Python
reading of the documented meaning, for a few hundred random conditions, with and without the
access rule's branches; and the live stream sends a new scan only when it matches."""

from __future__ import annotations

import json
import random
import threading
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from fastapi.testclient import TestClient

from scanlog_api import ScanlogServer, ScanlogSettings, TokenUser, create_app
from scanlog_api._access import build_branches
from scanlog_api._conditions import ConditionError, conditions_filters, parse_conditions
from scanlog_api._match import matches
from scizoo.core import DATASET_COLLECTION, to_si
from tests.helpers import wait_for
from tests.system.test_scan_api import _dataset

pytestmark = pytest.mark.system

ADMIN = {"Authorization": "Bearer tadmin"}
A = {"Authorization": "Bearer ta"}
MISSING: Any = object()
ENERGY_UNITS = ["keV", "eV"]
GRID = [1, 2, 5, 8, 8.5, 9, 10, 12]


def _entry(value: Any, unit: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"value": value, "unit": unit}
    if (si := to_si(value, unit)) is not None:
        out["valueSI"], out["unitSI"] = si.value, si.unit
    return out


def _metadata(rng: random.Random) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if rng.random() < 0.8:
        unit = rng.choice([*ENERGY_UNITS, "K"])  # one key, two dimensions (another beamline's habit)
        value = rng.choice(GRID) * (1000 if unit == "eV" else 1)
        meta["photon_energy"] = _entry(value, unit)
    if rng.random() < 0.7:
        unit = rng.choice(["mm", "um"])
        first, last = sorted(rng.sample(GRID, 2))
        scale = 1000 if unit == "um" else 1
        meta["motor"] = _entry([first * scale, last * scale], unit)  # a list: no valueSI
    if rng.random() < 0.6:
        meta["shutter"] = _entry(rng.choice(["open", "closed", "Closed", "fault", "8"]))
    if rng.random() < 0.5:  # another writer's bare value, or SciCat's short form
        meta["count"] = rng.choice([rng.choice(GRID), {"v": rng.choice(GRID), "u": ""}])
    if rng.random() < 0.5:
        meta["tags"] = rng.sample(["ab", "Cd", "ef", "open"], rng.randint(0, 2))  # a bare list of text
    if rng.random() < 0.6:
        meta["sample"] = {"temperature": _entry(rng.choice(GRID) * 10, rng.choice(["K", "degC"])),
                          "name": _entry(rng.choice(["Si", "Ge", "GaAs"]))}
    return meta


@pytest.fixture()
def catalogue(mongo, db) -> list[dict[str, Any]]:
    rng = random.Random(20)
    docs = []
    for n in range(160):
        doc = _dataset(n, rng.choice(["A", "B", "C"]))
        doc["ownerGroup"] = doc["proposalIds"][0]
        doc["accessGroups"] = rng.choice([[], ["A"], ["B"]])
        doc["isPublished"] = rng.random() < 0.15
        doc["scientificMetadata"] = {**_metadata(rng), "scan_id": doc["scientificMetadata"]["scan_id"]}
        docs.append(doc)
    db[DATASET_COLLECTION].insert_many(docs)
    return docs


@pytest.fixture()
def client(mongo, db, catalogue):
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, tokens={
        "ta": TokenUser(user="alice", groups=["A"]), "tadmin": TokenUser(user="root", groups=[], admin=True)})
    with TestClient(create_app(settings)) as c:
        yield c


# --- the documented meaning, read plainly -------------------------------------------------

def _lookup(meta: dict[str, Any], key: str) -> Any:
    value: Any = meta
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _test(op: str, v: Any, args: list[Any]) -> bool:
    if op in ("lt", "le", "gt", "ge", "between"):
        if not _number(v):
            return False
        return {"lt": lambda: v < args[0], "le": lambda: v <= args[0], "gt": lambda: v > args[0],
                "ge": lambda: v >= args[0], "between": lambda: args[0] < v < args[1]}[op]()
    if op == "contains":
        return isinstance(v, str) and args[0].lower() in v.lower()
    return any(type(v) is type(a) or (_number(v) and _number(a)) for a in args) and v in args  # eq, in


def _si(value: float, unit: str) -> float:
    si = to_si(value, unit)
    assert si is not None
    return si.value


def _from_si(value: float, unit: str) -> float:
    zero, one = _si(0.0, unit), _si(1.0, unit)
    return (value - zero) / (one - zero)


def _positive(op: str, args: list[Any], unit: str, entry: Any) -> bool:
    op = "eq" if op == "ne" else op
    if not unit:  # the value as stored: a bare value, or the entry's value (or v); any element of a list
        raws = [entry[k] for k in ("value", "v") if k in entry] if isinstance(entry, dict) else [entry]
        return any(_test(op, v, args) for raw in raws for v in (raw if isinstance(raw, list) else [raw]))
    if not isinstance(entry, dict):
        return False
    si_unit = to_si(1.0, unit).unit  # type: ignore[union-attr]
    in_si = [_si(a, unit) for a in args]
    if "valueSI" in entry:
        return entry.get("unitSI") == si_unit and _test(op, entry["valueSI"], in_si)
    own = entry.get("unit")
    own_si = to_si(1.0, own) if isinstance(own, str) and own else None
    if own_si is None or own_si.unit != si_unit:
        return False
    items = entry.get("value") if isinstance(entry.get("value"), list) else [entry.get("value")]
    return any(_test(op, v, [_from_si(a, own) for a in in_si]) for v in items)


def _holds(cond: tuple[str, str, list[Any], str], meta: dict[str, Any]) -> bool:
    key, op, args, unit = cond
    entry = _lookup(meta, key)
    if op == "exists":
        return entry is not MISSING
    if entry is MISSING:
        return False
    if op == "ne":
        return not _positive(op, args, unit, entry)
    return _positive(op, args, unit, entry)


def _readable(doc: dict[str, Any], groups: set[str] | None) -> bool:
    return groups is None or doc["isPublished"] or doc["ownerGroup"] in groups or bool(groups & set(doc["accessGroups"]))


# --- random conditions ---------------------------------------------------------------------

def _random_condition(rng: random.Random) -> tuple[str, str, list[Any], str]:
    kind = rng.choice(["energy", "energy", "motor", "temperature", "shutter", "count", "tags", "name", "exists"])
    numeric = rng.choice(["eq", "ne", "lt", "le", "gt", "ge", "between", "in"])
    if kind == "energy":
        unit = rng.choice(["keV", "eV", ""])
        scale = 1000 if unit == "eV" else 1
        return "photon_energy", numeric, _numbers(rng, numeric, scale), unit
    if kind == "motor":
        unit = rng.choice(["mm", "um", "m"])
        scale = {"mm": 1, "um": 1000, "m": 0.001}[unit]
        return "motor", numeric, _numbers(rng, numeric, scale), unit
    if kind == "temperature":
        unit = rng.choice(["K", "degC", ""])
        return "sample.temperature", numeric, _numbers(rng, numeric, 10), unit
    if kind == "count":
        return "count", numeric, _numbers(rng, numeric, 1), ""
    if kind in ("shutter", "tags", "name"):
        key = {"shutter": "shutter", "tags": "tags", "name": "sample.name"}[kind]
        op = rng.choice(["eq", "ne", "contains", "in"])
        words = ["open", "closed", "clo", "OPEN", "8", "ab", "C", "Si", "Ga", ".*", "$ne"]
        return key, op, rng.sample(words, 2 if op == "in" else 1), ""
    return rng.choice(["photon_energy", "motor", "sample.temperature", "tags", "nothing"]), "exists", [], ""


def _numbers(rng: random.Random, op: str, scale: float) -> list[Any]:
    if op == "between":
        lo, hi = sorted(rng.sample(GRID, 2))
        return [lo * scale, hi * scale]
    if op == "in":
        return [g * scale for g in rng.sample(GRID, 2)]
    return [rng.choice(GRID) * scale]


def _where(cond: tuple[str, str, list[Any], str]) -> str:
    key, op, args, unit = cond

    def text(a: Any) -> str:
        if isinstance(a, str):
            return quote(f'"{a}"' if a.replace(".", "", 1).isdigit() else a, safe="")
        return repr(float(a)) if isinstance(a, float) and not a.is_integer() else str(int(a))
    if op == "exists":
        return f"{key}:exists"
    if op == "in":
        value = ",".join(text(a) for a in args)
    else:
        value = ":".join(text(a) for a in args)
    return f"{key}:{op}:{value}" + (f":{unit}" if unit else "")


def _in_memory(wheres: list[str], user: TokenUser, docs: list[dict[str, Any]]) -> list[str] | None:
    """What the live stream's evaluator (``_match``) selects with the same filters."""
    units = {k: {e["unit"] for d in docs if isinstance(e := _lookup(d["scientificMetadata"], k), dict)}
             for k in ("photon_energy", "motor", "sample.temperature")}
    try:
        branches = build_branches(user, conditions=conditions_filters(parse_conditions(wheres), units))
    except ConditionError:
        return None
    return sorted(d["scientificMetadata"]["scan_id"]["value"] for d in docs if any(matches(b, d) for b in branches))


def test_random_conditions_agree_with_their_meaning(client: TestClient, catalogue: list[dict[str, Any]]) -> None:
    rng = random.Random(2020)
    pids = {d["scientificMetadata"]["scan_id"]["value"]: d for d in catalogue}
    readers = {None: TokenUser(user="root", admin=True), "A": TokenUser(user="alice", groups=["A"])}
    checked = selected = 0
    for _ in range(150):
        conds = [_random_condition(rng) for _ in range(rng.choice([1, 1, 2]))]
        query = urlencode([("where", _where(c)) for c in conds] + [("limit", 500)])
        for headers, groups in ((ADMIN, None), (A, {"A"})):
            in_memory = _in_memory([_where(c) for c in conds], readers[None if groups is None else "A"], catalogue)
            answer = client.get(f"/api/scans?{query}", headers=headers)
            if answer.status_code == 422:  # only an incompatible unit: 'K' asked of a key never in K
                assert "not compatible" in answer.json()["detail"], (query, answer.text)
                continue
            assert answer.status_code == 200, (query, answer.text)
            got = sorted(r["scan_id"] for r in answer.json()["data"])
            want = sorted(str(n) for n, d in pids.items()
                          if _readable(d, groups) and all(_holds(c, d["scientificMetadata"]) for c in conds))
            assert got == want, (query, groups)
            assert in_memory == want, (query, groups)
            assert answer.json()["count"] == len(want)
            checked += 1
            selected += len(want)
    assert checked >= 250 and 0 < selected < checked * len(catalogue) / 2  # neither all nor nothing


def test_the_csv_follows_the_conditions_and_errors_name_them(client: TestClient,
                                                            catalogue: list[dict[str, Any]]) -> None:
    where = "photon_energy:between:8:10:keV"
    rows = client.get(f"/api/scans.csv?where={quote(where)}&columns=scan_id", headers=ADMIN).text.splitlines()[1:]
    api = client.get(f"/api/scans?where={quote(where)}&limit=500", headers=ADMIN).json()
    assert sorted(rows) == sorted(r["scan_id"] for r in api["data"]) and api["count"] > 0
    bad = client.get(f"/api/scans?where={quote('motor:gt:3:K')}", headers=A)
    assert bad.status_code == 422 and "motor:gt:3:K" in bad.json()["detail"]
    assert client.get(f"/api/scans?where={quote('motor:nearly:3')}", headers=A).status_code == 422
    many = urlencode([("where", "motor:exists")] * 9)
    assert "at most 8" in client.get(f"/api/scans?{many}", headers=A).json()["detail"]
    # no operator or pattern injection: the text is compared as text
    assert client.get(f"/api/scans?where={quote('shutter:contains:.*')}", headers=ADMIN).json()["count"] == 0
    assert client.get(f"/api/scans?where={quote('$where:exists')}", headers=ADMIN).status_code == 422
    # what pint's parser or the store's integers would fail on is a 422 or a plain number, never a 500
    assert client.get(f"/api/scans?where={quote('count:gt:1:(')}", headers=ADMIN).status_code == 422
    assert client.get(f"/api/scans?where={quote('count:eq:' + '9' * 30)}", headers=ADMIN).json()["count"] == 0
    doc = client.get("/openapi.json").json()["paths"]["/api/scans"]["get"]
    where_param = next(p for p in doc["parameters"] if p["name"] == "where")
    assert "between" in where_param["description"] and where_param["examples"]


class _Stream:
    def __init__(self, url: str) -> None:
        self.scans: list[str] = []
        self.hello = threading.Event()
        threading.Thread(target=self._run, args=(url,), daemon=True).start()
        assert self.hello.wait(20), "the stream never said hello"

    def _run(self, url: str) -> None:
        event = ""
        try:
            with httpx.stream("GET", url, headers=A, timeout=60) as response:
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                        if event == "hello":
                            self.hello.set()
                    elif line.startswith("data:") and event == "scan":
                        self.scans.append(json.loads(line[5:])["scan_id"])
        except httpx.HTTPError:
            pass


def test_the_live_stream_sends_only_matching_scans(mongo, db) -> None:
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name,
                               tokens={"ta": TokenUser(user="alice", groups=["A"])})
    with ScanlogServer(settings, grace_s=1) as server:
        where = quote("photon_energy:between:8:10:keV")
        assert httpx.get(f"{server.url}/api/stream?where={quote('x:nearly:1')}", headers=A).status_code == 422
        matching, everything = _Stream(f"{server.url}/api/stream?where={where}"), _Stream(f"{server.url}/api/stream")
        datasets = db[DATASET_COLLECTION]
        datasets.insert_one(_dataset(1, "A", energy=9000.0))  # 9 keV, stored in eV
        datasets.insert_one(_dataset(2, "A", energy=12000.0))
        datasets.insert_one(_dataset(3, "B", energy=9000.0))  # matches, but not alice's
        datasets.insert_one(_dataset(4, "A", energy=9999.99))  # just inside (SI values keep 12 digits)
        wait_for(lambda: len(everything.scans) == 3, timeout=20, what="the unfiltered stream's scans")
        wait_for(lambda: len(matching.scans) >= 2, timeout=20, what="the matching scans")
        assert matching.scans == ["1", "4"] and everything.scans == ["1", "2", "4"]

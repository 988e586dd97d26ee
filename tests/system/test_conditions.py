"""Metadata conditions on the real store: what the API selects agrees with a plain Python
reading of the documented meaning, for a few hundred random conditions (ORs on one key, nested
keys, lists among them), with and without the access rule's branches, and so do its refusals
(an unknown key, an incompatible unit); and the live stream sends a new scan only when it
matches."""

from __future__ import annotations

import json
import random
import threading
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from scanlog_api import ScanlogServer, ScanlogSettings, TokenUser, create_app
from scanlog_api import _held_keys as held_keys
from scanlog_api._access import build_branches
from scanlog_api._conditions import ConditionError, conditions_filters, parse_conditions
from scanlog_api._deps import compile_conditions
from scanlog_api._errors import Invalid
from scanlog_api._match import matches
from scanlog_api._store import ScanStore
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


def _nested_metadata(rng: random.Random) -> dict[str, Any]:
    """Keys nested deeper, holding lists, and one few scans hold (apart from :func:`_metadata`,
    whose documents tests/system/test_facets.py counts)."""
    meta: dict[str, Any] = {}
    if rng.random() < 0.5:  # nested lists: an entry's (no valueSI) and a bare one
        unit = rng.choice(["mm", "um"])
        scale = 1000 if unit == "um" else 1
        meta["scan"] = {"path": {"positions": _entry([g * scale for g in rng.sample(GRID, 3)], unit)},
                        "labels": rng.sample(["open", "Si", "hot", "8"], rng.randint(1, 2))}
    if rng.random() < 0.05:
        meta["rare"] = _entry(rng.choice(GRID))  # held by a few scans: unknown to some readers
    if rng.random() < 0.5:  # a list of objects (another writer's detectors): the path goes into each
        meta["detectors"] = [_detector(rng) for _ in range(rng.randint(1, 3))]
    return meta


def _detector(rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {"name": _entry(rng.choice(["eiger", "pilatus", "Mythen"]))}
    if rng.random() < 0.8:
        unit = rng.choice(["s", "ms"])
        scale = 1000 if unit == "ms" else 1
        value: Any = rng.choice(GRID) * scale / 10
        if rng.random() < 0.2:
            value = [value, value * 2]  # a list: no valueSI
        out["exposure"] = _entry(value, unit)
    return out


@pytest.fixture()
def catalogue(mongo, db) -> list[dict[str, Any]]:
    rng, nested = random.Random(20), random.Random(21)
    docs = []
    for n in range(160):
        doc = _dataset(n, rng.choice(["A", "B", "C"]))
        doc["ownerGroup"] = doc["proposalIds"][0]
        doc["accessGroups"] = rng.choice([[], ["A"], ["B"]])
        doc["isPublished"] = rng.random() < 0.15
        doc["scientificMetadata"] = {**_metadata(rng), **_nested_metadata(nested),
                                     "scan_id": doc["scientificMetadata"]["scan_id"]}
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
    return float(f"{(value - zero) / (one - zero):.12g}")  # to 12 digits, as SI values are


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


def _holds_either(cond: list[tuple[str, str, list[Any], str]], meta: dict[str, Any]) -> bool:
    """A condition's tests are ORed (alternatives after '|')."""
    return any(_holds(test, meta) for test in cond)


def _reach(value: Any, parts: list[str]) -> list[Any]:
    """What a key reaches, into each object of a list on the way (as the store follows a path)."""
    if not parts:
        return [value]
    if isinstance(value, dict):
        return _reach(value[parts[0]], parts[1:]) if parts[0] in value else []
    if isinstance(value, list):
        return [r for v in value if isinstance(v, dict) for r in _reach(v, parts)]
    return []


def _refusal(conds: list[list[tuple[str, str, list[Any], str]]], readable: list[dict[str, Any]]) -> str | None:
    """Why the API must refuse the conditions for a reader of ``readable``, None if it must not:
    a key no readable scan holds; a unit none of the key's units (in what they read) takes."""
    for cond in conds:
        key = cond[0][0]
        entries = [e for d in readable for e in _reach(d["scientificMetadata"], key.split("."))]
        if not entries:
            return "no scan you may read has the key"
        units = {e["unit"] for e in entries if isinstance(e, dict) and isinstance(e.get("unit"), str)}
        for _, _, _, unit in cond:
            si = to_si(1.0, unit) if unit else None
            if si is not None and units and not any((o := to_si(1.0, u)) and o.unit == si.unit for u in units if u):
                return "not compatible"
    return None


def _readable(doc: dict[str, Any], groups: set[str] | None) -> bool:
    return groups is None or doc["isPublished"] or doc["ownerGroup"] in groups or bool(groups & set(doc["accessGroups"]))


# --- random conditions ---------------------------------------------------------------------

KINDS = ["energy", "energy", "motor", "temperature", "shutter", "count", "tags", "name", "positions", "labels",
         "rare", "exposure", "detector", "typo", "exists"]


def _random_condition(rng: random.Random) -> list[tuple[str, str, list[Any], str]]:
    """One condition: a test, and sometimes alternatives on the same key (ORed)."""
    kind = rng.choice(KINDS)
    first = _random_test(rng, kind)
    more = rng.choice([0, 0, 0, 1, 2]) if first[1] != "exists" else 0
    return [first, *(_random_test(rng, kind, first[0]) for _ in range(more))]


def _random_test(rng: random.Random, kind: str, key: str | None = None) -> tuple[str, str, list[Any], str]:
    numeric = rng.choice(["eq", "ne", "lt", "le", "gt", "ge", "between", "in"])
    if kind in ("energy", "typo"):  # typo: a key no scan holds
        unit = rng.choice(["keV", "eV", ""])
        scale = 1000 if unit == "eV" else 1
        return {"energy": "photon_energy", "typo": "photon_enrgy"}[kind], numeric, _numbers(rng, numeric, scale), unit
    if kind in ("motor", "positions"):
        unit = rng.choice(["mm", "um", "m", "mm", "um", "m", "s"])  # s: not a length (refused)
        scale = {"mm": 1, "um": 1000, "m": 0.001, "s": 1}[unit]
        return {"motor": "motor", "positions": "scan.path.positions"}[kind], numeric, _numbers(rng, numeric, scale), unit
    if kind == "temperature":
        unit = rng.choice(["K", "degC", ""])
        return "sample.temperature", numeric, _numbers(rng, numeric, 10), unit
    if kind == "exposure":
        unit = rng.choice(["s", "ms", "", "mm"])  # mm: not a time (refused)
        return "detectors.exposure", numeric, _numbers(rng, numeric, 100 if unit == "ms" else 0.1), unit
    if kind == "detector":
        op = rng.choice(["eq", "ne", "contains", "in"])
        return "detectors.name", op, rng.sample(["eiger", "Pilatus", "myth", "E"], 2 if op == "in" else 1), ""
    if kind in ("count", "rare"):
        return kind, numeric, _numbers(rng, numeric, 1), ""
    if kind in ("shutter", "tags", "name", "labels"):
        key = {"shutter": "shutter", "tags": "tags", "name": "sample.name", "labels": "scan.labels"}[kind]
        op = rng.choice(["eq", "ne", "contains", "in"])
        words = ["open", "closed", "clo", "OPEN", "8", "ab", "C", "Si", "Ga", ".*", "$ne", "ho"]
        return key, op, rng.sample(words, 2 if op == "in" else 1), ""
    # exists: on keys held by many, few (rare) or none (a typo)
    return key or rng.choice(["photon_energy", "motor", "sample.temperature", "tags", "scan.path", "rare",
                              "nothing", "photon_enrgy"]), "exists", [], ""


def _numbers(rng: random.Random, op: str, scale: float) -> list[Any]:
    if op == "between":
        lo, hi = sorted(rng.sample(GRID, 2))
        return [lo * scale, hi * scale]
    if op == "in":
        return [g * scale for g in rng.sample(GRID, 2)]
    return [rng.choice(GRID) * scale]


def _where(cond: list[tuple[str, str, list[Any], str]]) -> str:
    """The where text: the key once, then each test's op:values[:unit], joined by '|'."""
    def text(a: Any) -> str:
        if isinstance(a, str):
            return quote(f'"{a}"' if a.replace(".", "", 1).isdigit() else a, safe="")
        return repr(float(a)) if isinstance(a, float) and not a.is_integer() else str(int(a))

    def test(op: str, args: list[Any], unit: str) -> str:
        if op == "exists":
            return op
        value = ",".join(text(a) for a in args) if op == "in" else ":".join(text(a) for a in args)
        return f"{op}:{value}" + (f":{unit}" if unit else "")
    return cond[0][0] + ":" + "|".join(test(op, args, unit) for _, op, args, unit in cond)


def _in_memory(wheres: list[str], user: TokenUser, docs: list[dict[str, Any]]) -> list[str] | None:
    """What the live stream's evaluator (``_match``) selects with the same filters."""
    units = {k: {e["unit"] for d in docs for e in _reach(d["scientificMetadata"], k.split(".")) if isinstance(e, dict)}
             for k in ("photon_energy", "motor", "sample.temperature", "scan.path.positions", "detectors.exposure")}
    try:
        branches = build_branches(user, conditions=conditions_filters(parse_conditions(wheres), units))
    except ConditionError:
        return None
    return sorted(d["scientificMetadata"]["scan_id"]["value"] for d in docs if any(matches(b, d) for b in branches))


def _as_the_stream_compiles(wheres: list[str], user: TokenUser, store: ScanStore,
                            docs: list[dict[str, Any]]) -> list[str] | str:
    """What the live stream's evaluator selects with the filters the stream compiles (the store's
    own units of the keys), or the refusal (the table's: the keys checked as well)."""
    try:
        access = build_branches(user)
        branches = build_branches(user, conditions=compile_conditions(parse_conditions(wheres), store, access,
                                                                      readable=access))
    except Invalid as err:
        return str(err)
    return sorted(d["scientificMetadata"]["scan_id"]["value"] for d in docs if any(matches(b, d) for b in branches))


def test_random_conditions_agree_with_their_meaning(client: TestClient, catalogue: list[dict[str, Any]],
                                                    mongo, db) -> None:
    store = ScanStore(SecretStr(mongo.uri), db.name)
    rng = random.Random(2020)
    pids = {d["scientificMetadata"]["scan_id"]["value"]: d for d in catalogue}
    readers = {None: TokenUser(user="root", admin=True), "A": TokenUser(user="alice", groups=["A"])}
    checked = selected = ored = through_lists = 0
    refused: dict[str, int] = {}
    for _ in range(220):
        conds = [_random_condition(rng) for _ in range(rng.choice([1, 1, 2]))]
        query = urlencode([("where", _where(c)) for c in conds] + [("limit", 500)])
        for headers, groups in ((ADMIN, None), (A, {"A"})):
            readable = [d for d in catalogue if _readable(d, groups)]
            answer = client.get(f"/api/scans?{query}", headers=headers)
            if any(c[0][0].startswith("detectors.") for c in conds):
                # Through a list of objects each bound may be met by another object (the store's
                # meaning, not read plainly here): the live stream's evaluator, given what the
                # stream compiles, agrees with the table.
                streamed = _as_the_stream_compiles([_where(c) for c in conds], readers[None if groups is None else "A"],
                                                   store, catalogue)
                if isinstance(streamed, str):
                    assert answer.status_code == 422 and answer.json()["detail"] == streamed, (query, groups)
                else:
                    assert answer.status_code == 200, (query, groups, answer.text)
                    assert sorted(r["scan_id"] for r in answer.json()["data"]) == streamed, (query, groups)
                through_lists += 1
                continue
            if (why := _refusal(conds, readable)) is not None:
                assert answer.status_code == 422 and why in answer.json()["detail"], (query, groups, answer.text)
                assert _where(conds[0]) in answer.json()["detail"] or len(conds) > 1
                refused[why] = refused.get(why, 0) + 1
                continue
            assert answer.status_code == 200, (query, groups, answer.text)
            in_memory = _in_memory([_where(c) for c in conds], readers[None if groups is None else "A"], catalogue)
            got = sorted(r["scan_id"] for r in answer.json()["data"])
            assert answer.json()["count"] == len(got)
            want = sorted(str(n) for n, d in pids.items()
                          if _readable(d, groups) and all(_holds_either(c, d["scientificMetadata"]) for c in conds))
            assert got == want, (query, groups)
            assert in_memory == want, (query, groups)
            checked += 1
            selected += len(want)
            ored += any(len(c) > 1 for c in conds)
    assert checked >= 250 and 0 < selected < checked * len(catalogue) / 2  # neither all nor nothing
    assert through_lists >= 40
    store.close()
    assert ored >= 60 and refused.get("no scan you may read has the key", 0) >= 10 and refused.get("not compatible")


def test_an_unknown_key_an_incompatible_unit_and_a_bad_value_are_refused_alike(client: TestClient) -> None:
    """Each a 422 whose one sentence names the condition as written, then says what is wrong."""
    for where, reason in [
        ("photon_enrgy:gt:8:keV", "no scan you may read has the key 'photon_enrgy'"),
        ("motor:gt:3:K", "'K' is not compatible with the unit of 'motor' ('mm', 'um')"),
        ("photon_energy:gt:abc:keV", "gt compares numbers"),
        ("photon_energy:between:10:8:keV|lt:1:keV", "between takes lo < hi"),
        ("photon_energy:gt:8:parsecs_x", "unknown unit 'parsecs_x'"),
    ]:
        for route in ("/api/scans", "/api/scans.csv", "/api/scans/facets", "/api/scans/keys"):
            answer = client.get(route, params={"where": where}, headers=A)
            assert answer.status_code == 422, (route, where)
            assert answer.json()["detail"] == f"condition {where!r}: {reason}", (route, answer.text)


def test_a_key_only_unreadable_scans_hold_is_unknown_to_the_reader(client: TestClient, db) -> None:
    """Refusing an unknown key never tells a reader about keys of scans they may not read."""
    hidden = _dataset(900, "B")
    hidden.update(ownerGroup="B", accessGroups=[], isPublished=False)
    hidden["scientificMetadata"]["secret_dose"] = _entry(5.0, "Gy")
    db[DATASET_COLLECTION].insert_one(hidden)
    for where in ("secret_dose:exists", "secret_dose:gt:1:Gy", "secret_dose:gt:1:keV"):
        answer = client.get(f"/api/scans?where={quote(where)}", headers=A)
        assert answer.status_code == 422, where
        assert answer.json()["detail"] == f"condition {where!r}: no scan you may read has the key 'secret_dose'"
    assert client.get(f"/api/scans?where={quote('secret_dose:gt:1:Gy')}", headers=ADMIN).json()["count"] == 1
    # the keys listed for the picker are nested as conditions name them, with their units
    keys = client.get("/api/scans/keys", headers=A).json()
    assert keys["scan.path.positions"] in ("mm", "um") and keys["sample.temperature"] in ("K", "degC")
    assert "scan.labels" in keys and "sample" not in keys and "secret_dose" not in keys
    # a key not held is asked again: once a scan the reader may read brings it, it is known
    mine = _dataset(901, "A")
    mine.update(ownerGroup="A", accessGroups=[], isPublished=False)
    mine["scientificMetadata"]["secret_dose"] = _entry(2.0, "Gy")
    db[DATASET_COLLECTION].insert_one(mine)
    assert client.get(f"/api/scans?where={quote('secret_dose:gt:1:Gy')}", headers=A).json()["count"] == 1


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


def test_a_stream_with_conditions_is_bounded_by_the_tables_time_as_the_table_is(mongo, db, monkeypatch) -> None:
    """The conditions search a bounded selection; the table's time bound narrows it, and the page
    sends that bound to the stream too: without it, a stream with conditions was refused where the
    table with the same filter was answered (staff with more scans than the bound: live feed off)."""
    import scanlog_api._deps as deps

    monkeypatch.setattr(deps, "MAX_CONDITION_SCAN", 2)
    db[DATASET_COLLECTION].insert_many([_dataset(n, "A", energy=9000.0) for n in (1, 2, 3)])
    since = max(d["creationTime"] for d in db[DATASET_COLLECTION].find()).isoformat()
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name,
                               tokens={"ta": TokenUser(user="alice", groups=["A"])})
    with ScanlogServer(settings, grace_s=1) as server:
        where = quote("photon_energy:between:8:10:keV")
        refused = httpx.get(f"{server.url}/api/stream?where={where}", headers=A)
        assert refused.status_code == 422 and "narrow the selection" in refused.json()["detail"]
        bounded = f"where={where}&since={quote(since)}"
        assert httpx.get(f"{server.url}/api/scans?{bounded}", headers=A).status_code == 200
        live = _Stream(f"{server.url}/api/stream?{bounded}")  # said hello: accepted
        db[DATASET_COLLECTION].insert_one(_dataset(4, "A", energy=9500.0))
        wait_for(lambda: live.scans == ["4"], timeout=20, what="the new matching scan on the bounded stream")


def test_a_key_whose_look_up_runs_out_of_time_is_taken_as_held(client: TestClient, monkeypatch) -> None:
    """The look-up is bounded: past its time a key is not refused (its absence is unproven); the
    condition then selects what it selects (here nothing), never more than the access rule allows."""
    monkeypatch.setattr(held_keys, "KEY_LOOKUP_S", 0.0)
    answer = client.get("/api/scans", params={"where": "photon_enrgy:exists"}, headers=A)
    assert answer.status_code == 200 and answer.json()["count"] == 0


def test_a_unit_condition_on_a_key_whose_entries_all_have_value_si_compiles_flat(
        client: TestClient, catalogue: list[dict[str, Any]], mongo, db) -> None:
    """Every photon_energy entry here has valueSI: its condition is one flat range in each
    branch (no $and/$or, which SecantusDB plans as a collection scan); the motor's entries are
    lists without valueSI: compared in their own units, which the store reports."""
    store = ScanStore(SecretStr(mongo.uri), db.name)
    try:
        access = build_branches(TokenUser(user="alice", groups=["A"]))
        energy = compile_conditions(parse_conditions(["photon_energy:between:8:10:keV"]), store, access,
                                    readable=access)
        assert [sorted(f) for f in energy] == [["scientificMetadata.photon_energy.unitSI",
                                               "scientificMetadata.photon_energy.valueSI"]]
        assert not any(k.startswith("$") for b in build_branches(TokenUser(user="alice", groups=["A"]),
                                                                 conditions=energy) for k in b)
        motor = compile_conditions(parse_conditions(["motor:gt:8:mm"]), store, access, readable=access)
        assert sorted(a.get("scientificMetadata.motor.unit", "") for a in motor[0]["$or"]) == ["", "mm", "um"]
    finally:
        store.close()


def test_the_units_of_a_key_through_a_list_of_objects_are_found_on_the_embedded_store(mongo, db) -> None:
    """SecantusDB's distinct does not enter a list of objects (MongoDB's does), so a key through
    one (detectors.exposure) had no units there: an exposure list in seconds (no valueSI) was not
    compared in its own unit, and an incompatible unit was not refused. Now the units are read
    along the path, so both stores answer the same."""
    doc = _dataset(1, "A")
    doc["ownerGroup"] = "A"
    doc["scientificMetadata"]["detectors"] = [{"name": _entry("eiger")},
                                              {"name": _entry("pilatus"), "exposure": _entry([0.2, 0.4], "s")}]
    db[DATASET_COLLECTION].insert_one(doc)
    store = ScanStore(SecretStr(mongo.uri), db.name)
    try:
        assert store.key_unit_sets(build_branches(TokenUser(user="root", admin=True)),
                                   ["detectors.exposure"]) == {"detectors.exposure": ({"s"}, {"s"})}
    finally:
        store.close()
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, tokens={"ta": TokenUser(user="alice", groups=["A"])})
    with TestClient(create_app(settings)) as client:
        found = client.get("/api/scans", params={"where": "detectors.exposure:gt:300:ms"}, headers=A)
        assert found.status_code == 200 and [r["pid"] for r in found.json()["data"]] == [doc["pid"]]
        refused = client.get("/api/scans", params={"where": "detectors.exposure:gt:3:K"}, headers=A)
        assert refused.status_code == 422 and "not compatible" in refused.json()["detail"]

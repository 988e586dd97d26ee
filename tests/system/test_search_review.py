"""Adversarial review of issue 20's search surfaces (conditions, facets, keys, units, the live
stream, the CSV, saved views, the PaNOSC API): what a caller may not read never shows in an
answer, typed text never becomes an operator, pattern or runaway computation, and every
request's work is bounded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from scanlog_api import ScanlogSettings, TokenUser, create_app
from scanlog_api._panosc_search import MAX_ANSWER_ITEMS
from scanlog_api._views import MAX_VIEWS
from scizoo.core import (
    DATASET_COLLECTION,
    ORIG_DATABLOCK_COLLECTION,
    PROPOSAL_COLLECTION,
    PUBLISHED_DATA_COLLECTION,
    VIEW_COLLECTION,
    Creator,
    PublicationIn,
    build_published_data,
    to_si,
)
from tests.system.test_scan_api import _dataset

pytestmark = pytest.mark.system

API = "/panosc-api"
NOW = datetime(2026, 11, 21, tzinfo=UTC)


def _publication(doi: str, pids: list[str]) -> dict[str, Any]:
    form = PublicationIn(title=doi, abstract="abstract", creators=[Creator(name="Chadwick, James")],
                         publisher="scizoo lab", publication_year=2026, subjects=["neutrons"], dataset_pids=pids)
    doc = build_published_data(form, doi=doi, owner_group="A", files=0, size=0, user="alice", now=NOW,
                               landing_url=f"https://scans.example.org/doi/{doi}").to_mongo()
    return {**doc, "status": "registered", "registeredTime": NOW}


@pytest.fixture()
def published(mongo, db) -> Iterator[TestClient]:
    docs = []
    for n in range(30):
        doc = _dataset(n, "A")
        doc["isPublished"] = True
        docs.append(doc)
    db[DATASET_COLLECTION].insert_many(docs)
    db[PUBLISHED_DATA_COLLECTION].insert_many([_publication("10.5072/all", [d["_id"] for d in docs])])
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, publisher="scizoo lab", tokens={})
    with TestClient(create_app(settings)) as c:
        yield c


def _objects(value: Any) -> int:
    """The JSON objects an answer holds, at every level."""
    if isinstance(value, dict):
        return 1 + sum(_objects(v) for v in value.values())
    return sum(_objects(v) for v in value) if isinstance(value, list) else 0


def _nested(levels: int) -> dict[str, Any]:
    """Datasets including their documents including their datasets ..., ``levels`` deep."""
    inner: dict[str, Any] = {}
    for n in reversed(range(levels)):
        relation = "documents" if n % 2 == 0 else "datasets"
        inner = {"include": [{"relation": relation, **({"scope": inner} if inner else {})}]}
    return inner


def test_nested_inclusions_answer_at_most_a_bounded_number_of_items(published: TestClient) -> None:
    """Datasets including their documents including their datasets ...: each level repeats the
    publication's 30 datasets, so six levels were 158 MB (eight: gigabytes) from one anonymous
    filter of 200 characters. The answer now counts its items at every level and refuses (400,
    LoopBack's status for a bad filter) beyond MAX_ANSWER_ITEMS; a filter within it is answered."""
    two = published.get(f"{API}/Datasets?filter={quote(json.dumps({**_nested(2), 'limit': 30}))}")
    assert two.status_code == 200, two.text[:200]
    assert len(two.json()) == 30 and all(len(d["documents"][0]["datasets"]) == 30 for d in two.json())
    four = published.get(f"{API}/Datasets?filter={quote(json.dumps({**_nested(4), 'limit': 30}))}")
    assert four.status_code == 200 and _objects(four.json()) == 28_860, four.text[:200]  # 30 + 30 * (1 + 30 * (1 + 30))
    started = time.monotonic()
    six = published.get(f"{API}/Datasets?filter={quote(json.dumps({**_nested(6), 'limit': 30}))}")
    assert six.status_code == 400, (six.status_code, len(six.content))  # 865,860 objects before
    assert f"{MAX_ANSWER_ITEMS:,} items" in six.json()["detail"], six.text
    assert time.monotonic() - started < 5
    # Documents: eight levels below one publication (56,000 objects at six).
    docs = published.get(f"{API}/Documents?filter={quote(json.dumps(_nested(9)['include'][0]['scope']))}")
    assert docs.status_code == 400 and "items" in docs.json()["detail"], docs.text[:200]


# --- what a caller may not read never shows ---------------------------------------------------

def _entry(value: Any, unit: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"value": value, "unit": unit}
    if unit and (si := to_si(value, unit)) is not None:
        out["valueSI"], out["unitSI"] = si.value, si.unit
    return out


def _scan(n: int, proposal: str, meta: dict[str, Any], *, access: list[str] | None = None,
          published: bool = False, beamline: str = "sim") -> dict[str, Any]:
    doc = _dataset(n, proposal)
    doc["ownerGroup"], doc["accessGroups"], doc["isPublished"] = proposal, access or [], published
    doc["instrumentIds"] = [beamline]
    doc["scientificMetadata"] = {**meta, "scan_id": doc["scientificMetadata"]["scan_id"]}
    return doc


def _readable_world() -> list[dict[str, Any]]:
    """What alice (A), a p02 staff member, and anyone may read."""
    return [
        _scan(1, "A", {"photon_energy": _entry(8, "keV"), "temperature": _entry(20, "K"),
                       "shutter": _entry("open"), "scan_status": _entry("finished")}),
        _scan(2, "A", {"photon_energy": _entry(8500, "eV"), "motor": _entry([1, 2], "mm"),
                       "shutter": _entry("closed")}, access=["staff-p02"], beamline="p02"),
        _scan(3, "C", {"photon_energy": _entry(9, "keV"), "shutter": _entry("open")}, published=True),
    ]


def _hidden_scan() -> dict[str, Any]:
    """Bob's: unpublished, readable by proposal B and the p01 staff only; every part of it is
    something the others must not learn (a key, a unit, a nested key, a text, a beamline)."""
    return _scan(9, "B", {
        "secret_key": _entry(42, "K"), "photon_energy": _entry(3, "m"), "temperature": _entry([5, 6], "degF"),
        "sec": {"inner": _entry(1, "s")}, "shutter": _entry("bob-secret-text"), "motor": _entry([7, 8], "um"),
        "scan_status": _entry("aborted-secretly")}, access=["staff-p01"], beamline="p01")


TOKENS = {"ta": TokenUser(user="alice", groups=["A"]), "tstaff": TokenUser(user="sam", groups=["staff-p02"])}
CALLERS = {"anonymous": {}, "alice": {"Authorization": "Bearer ta"}, "staff of p02": {"Authorization": "Bearer tstaff"}}


@pytest.fixture()
def worlds(mongo, mongo_client, db) -> Iterator[tuple[TestClient, TestClient]]:
    """Two catalogues the callers cannot tell apart: the same readable scans, and in the first
    one more scan none of them may read."""
    other = mongo_client[f"{db.name}_without"]
    db[DATASET_COLLECTION].insert_many([*_readable_world(), _hidden_scan()])
    other[DATASET_COLLECTION].insert_many(_readable_world())
    with_hidden = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, tokens=TOKENS)
    without = ScanlogSettings(mongo_uri=mongo.uri, database=other.name, tokens=TOKENS)
    try:
        with TestClient(create_app(with_hidden)) as one, TestClient(create_app(without)) as two:
            yield one, two
    finally:
        mongo_client.drop_database(other.name)


PROBES = [
    "/api/scans?where=secret_key:exists", "/api/scans?where=secret_key:gt:1:K", "/api/scans?where=sec.inner:exists",
    "/api/scans?where=sec.inner:lt:5:s", "/api/scans?where=photon_energy:gt:1:m",
    "/api/scans?where=photon_energy:gt:1:s", "/api/scans?where=photon_energy:gt:1:keV",
    "/api/scans?where=temperature:lt:300:K", "/api/scans?where=temperature:lt:300:degF",
    "/api/scans?where=motor:gt:5:um", "/api/scans?where=motor:gt:5",
    "/api/scans?where=shutter:contains:bob", "/api/scans?where=shutter:in:bob-secret-text,open",
    "/api/scans?where=shutter:ne:open", "/api/scans?where=scan_status:exists&q=secret",
    "/api/scans?sort=meta:secret_key", "/api/scans?beamline=p01", "/api/scans?proposal=B",
    "/api/scans?where=photon_energy:exists&beamline=p01",
    "/api/scans/keys", "/api/scans/keys?where=photon_energy:exists", "/api/scans/keys?q=secret",
    "/api/scans/facets?key=secret_key&key=photon_energy&key=shutter&key=sec.inner",
    "/api/scans/facets?key=photon_energy&unit=m", "/api/scans/facets?key=temperature&key=motor",
    "/api/scans/facets?key=sec&key=scan_status", "/api/scans/facets?where=photon_energy:exists",
    "/api/scans.csv?columns=scan_id,meta:secret_key,meta:photon_energy,meta:temperature,meta:motor",
    "/api/scans.csv?columns=scan_id&where=secret_key:exists", "/api/beamlines",
    f"{API}/Datasets/count", f"{API}/Instruments",
    f"{API}/Datasets?filter=" + quote(json.dumps({"include": [{"relation": "parameters", "scope": {"where": {
        "and": [{"name": "secret_key"}, {"value": {"gt": 1}}, {"unit": "K"}]}}}]})),
    f"{API}/Datasets?filter=" + quote(json.dumps({"include": [{"relation": "parameters", "scope": {"where": {
        "and": [{"name": "photon_energy"}, {"value": {"gt": 1}}, {"unit": "m"}]}}}]})),
]


def _answer(client: TestClient, url: str, headers: dict[str, str]) -> tuple[int, str]:
    answer = client.get(url, headers=headers)
    text = answer.text
    if url.startswith("/api/scans.csv"):  # the file's name holds the time of the export
        return answer.status_code, text
    return answer.status_code, text


@pytest.mark.parametrize("caller", CALLERS)
def test_no_answer_tells_whether_a_scan_one_may_not_read_exists(
        worlds: tuple[TestClient, TestClient], caller: str) -> None:
    """Every search surface answers exactly the same with and without a scan the caller may not
    read: its keys, units, nested keys, texts, counts and beamline never show, in a result, a
    count, a facet, the key picker, a CSV header or a refusal's message."""
    one, two = worlds
    headers = CALLERS[caller]
    differ = {url: (a, b) for url in PROBES
              if (a := _answer(one, url, headers)) != (b := _answer(two, url, headers))}
    assert not differ, json.dumps(differ, indent=1)[:3000]


@pytest.mark.parametrize("unit", ["m^((9))^((9))^9", "9 ^ ((9)) ** ((9)) ^ 9"])
def test_a_tower_of_powers_as_a_unit_is_refused_at_once(published: TestClient, unit: str) -> None:
    """Anonymous, through every place a unit is typed: pint computed 9**(9**9) (hours, holding
    the GIL) before the guard (tests/unit/test_search_review.py shows it in a child process)."""
    flt = {"include": [{"relation": "parameters", "scope": {"where": {"and": [
        {"name": "photon_energy"}, {"value": {"gt": 1}}, {"unit": unit}]}}}]}
    answer = published.get(f"{API}/Datasets?filter={quote(json.dumps(flt))}")
    assert answer.status_code == 400 and "unknown unit" in answer.json()["detail"], answer.text
    where = quote(f"photon_energy:gt:1:{unit}")
    for url in (f"/api/scans?where={where}", f"/api/scans/facets?key=photon_energy&unit={quote(unit)}",
                f"/api/scans.csv?where={where}"):
        answer = published.get(url)
        assert answer.status_code == 422 and "unknown unit" in answer.json()["detail"], answer.text


def test_the_like_patterns_of_one_filter_are_bounded_together(published: TestClient) -> None:
    """Each like pattern is tried on every candidate: 39 of three runs of '%' under an 'or' cost
    2.8 s a thousand published datasets on SecantusDB (anonymous); a filter's patterns now hold
    at most MAX_FILTER_LIKE_RUNS runs in all, refused (400) before the store is asked."""
    def where(patterns: int) -> dict[str, Any]:
        return {"or": [{"title": {"like": f"%_%_%_z{i}"}} for i in range(patterns)]}

    for url in (f"{API}/Datasets/count?where=" + quote(json.dumps(where(2))),
                f"{API}/Datasets?filter=" + quote(json.dumps({"where": where(2)}))):
        assert published.get(url).status_code == 200
    many = {"where": where(1), "include": [{"relation": "files", "scope": {"where": {"name": {"like": "%a%b%"}}}},
                                           {"relation": "instrument", "scope": {"where": {"name": {"like": "%x"}}}}]}
    for url in (f"{API}/Datasets/count?where=" + quote(json.dumps(where(39))),
                f"{API}/Datasets?filter=" + quote(json.dumps({"where": where(3)})),
                f"{API}/Datasets?filter=" + quote(json.dumps(many))):
        answer = published.get(url)
        assert answer.status_code == 400 and "at most 6 runs of '%' in all" in answer.json()["detail"], answer.text


# --- saved views --------------------------------------------------------------------------------

VIEW_TOKENS = {"ta": TokenUser(user="alice", groups=["A"]), "ta-left": TokenUser(user="alice", groups=[]),
               "tb": TokenUser(user="bob", groups=["B"])}


@pytest.fixture()
def views(mongo, db) -> Iterator[TestClient]:
    db[PROPOSAL_COLLECTION].insert_many([{"_id": "PA", "ownerGroup": "A", "accessGroups": []}])
    app = create_app(ScanlogSettings(tokens=VIEW_TOKENS, mongo_uri=mongo.uri, database=db.name))
    with TestClient(app) as client:
        app.state.indexes_ready.wait(60)
        yield client


def _view(name: str, shared: str | None = None) -> dict[str, Any]:
    return {"name": name, "columns": ["scan_id"], "where": ["photon_energy:gt:8:keV"], "sharedWith": shared}


def test_a_view_stays_shared_with_a_group_only_while_its_owner_is_in_it(views: TestClient) -> None:
    """Sharing asks for membership of the proposal's group at every save: alice, out of group A
    since, could otherwise still change what A's members are shown (a name, conditions) by
    saving her view again shared with the same proposal."""
    alice, left = {"Authorization": "Bearer ta"}, {"Authorization": "Bearer ta-left"}
    made = views.post("/api/views", json=_view("cold", "PA"), headers=alice)
    assert made.status_code == 201, made.text
    vid = made.json()["id"]
    resaved = views.put(f"/api/views/{vid}", json=_view("read me first", "PA"), headers=left)
    assert resaved.status_code == 422 and "sharedWith" in resaved.json()["detail"], resaved.text
    assert views.get(f"/api/views/{vid}", headers=alice).json()["name"] == "cold"
    unshared = views.put(f"/api/views/{vid}", json=_view("cold, mine"), headers=left)  # her own view: still hers
    assert unshared.status_code == 200 and unshared.json()["sharedWith"] is None
    assert views.put(f"/api/views/{vid}", json=_view("cold", "PA"), headers=alice).status_code == 200


def test_a_user_keeps_at_most_max_views_even_when_saving_at_once(views: TestClient) -> None:
    """Counting and then inserting let saves that came together all pass the count."""
    bob = {"Authorization": "Bearer tb"}
    for n in range(MAX_VIEWS - 2):
        assert views.post("/api/views", json=_view(f"v{n}"), headers=bob).status_code == 201
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda n: views.post("/api/views", json=_view(f"w{n}"), headers=bob).status_code,
                                range(12)))
    kept = views.get("/api/views", headers=bob).json()["count"]
    assert kept <= MAX_VIEWS and answers.count(201) == kept - (MAX_VIEWS - 2), (kept, answers)
    assert set(answers) <= {201, 409}


def test_a_stored_view_that_no_longer_passes_a_save_is_still_read_and_deleted(views: TestClient, db) -> None:
    """A view saved under rules since tightened (here: an op and a column no longer known),
    shared with A, made every list of views of A's members fail, and its owner could neither
    open nor delete it. It is read with its problem said; who may read and change it is as ever."""
    alice, bob = {"Authorization": "Bearer ta"}, {"Authorization": "Bearer tb"}
    now = datetime.now(UTC)
    db[VIEW_COLLECTION].insert_one({
        "_id": "older", "owner": "alice", "name": "older", "columns": ["scan_id", "gone_column"],
        "where": ["photon_energy:near:8"], "filters": {"range": "24"}, "sort": {"key": "title", "order": "asc"},
        "sharedWith": "PA", "sharedGroup": "A", "schema_version": 1, "createdAt": now, "updatedAt": now})
    listed = views.get("/api/views", headers=alice)
    assert listed.status_code == 200, listed.text
    (older,) = listed.json()["data"]
    assert older["where"] == ["photon_energy:near:8"] and older["columns"] == ["scan_id", "gone_column"]
    assert "near" in older["problem"] and "gone_column" in older["problem"]
    assert views.get("/api/views", headers=bob).json()["count"] == 0
    assert views.get("/api/views/older", headers=bob).status_code == 404
    assert views.put("/api/views/older", json=_view("older"), headers=bob).status_code == 404
    repaired = views.put("/api/views/older", json=_view("older", "PA"), headers=alice)
    assert repaired.status_code == 200 and repaired.json()["problem"] is None, repaired.text
    assert views.delete("/api/views/older", headers=alice).status_code == 204


def test_a_dataset_of_many_files_is_listed_a_page_at_a_time(published: TestClient, db) -> None:
    """Its files were all made into the answer (any page of them too, and the count made them
    all): 120,000 files included with each dataset are now refused as too many items, a page
    makes only what it shows, and the count counts."""
    (pid,) = [d["_id"] for d in db[DATASET_COLLECTION].find({}, {"_id": 1}).sort("_id", 1).limit(1)]
    db[ORIG_DATABLOCK_COLLECTION].insert_many([
        {"_id": f"block-{b}", "datasetId": pid, "size": 1, "ownerGroup": "A", "accessGroups": [], "isPublished": True,
         "dataFileList": [{"path": f"/data/raw/f{b}-{n}.h5", "size": 1, "time": NOW} for n in range(60_000)]}
        for b in range(2)])
    page = published.get(f"{API}/Datasets/{quote(pid, safe='')}/files?filter=" + quote(json.dumps({"skip": 5, "limit": 3})))
    assert page.status_code == 200, page.text[:200]
    assert [f["id"] for f in page.json()] == ["block-0-5", "block-0-6", "block-0-7"]
    last = published.get(f"{API}/Datasets/{quote(pid, safe='')}/files?filter="
                         + quote(json.dumps({"skip": 10_000, "limit": 2, "where": {"name": {"like": "f1-%"}}})))
    assert [f["name"] for f in last.json()] == ["f1-10000.h5", "f1-10001.h5"], last.text[:200]
    count = published.get(f"{API}/Datasets/{quote(pid, safe='')}/files/count")
    assert count.json() == {"count": 120_000}
    included = published.get(f"{API}/Datasets?filter=" + quote(json.dumps({"include": ["files"], "limit": 30})))
    assert included.status_code == 400 and "items" in included.json()["detail"], included.text[:200]

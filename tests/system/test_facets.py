"""Facets on the real store (SecantusDB): what /api/scans/facets counts agrees with counting the
same documents in Python (the documented meaning of conditions read plainly, as
tests/system/test_conditions.py reads it), for an administrator, a member of a group and an
anonymous reader (the access rule's branches), with and without conditions; each histogram bin
holds exactly the scans its own conditions select; a large selection is counted over its newest
scans, and says so."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from scanlog_api import ScanlogSettings, TokenUser, build_branches, create_app
from scanlog_api._facets import facet_fields, facet_keys
from scanlog_api._store import ScanStore
from scanlog_api._tally import Tally
from scizoo.core import DATASET_COLLECTION
from tests.helpers import wait_for
from tests.system.test_conditions import MISSING, _holds, _lookup, _metadata, _positive, _readable
from tests.system.test_scan_api import _dataset

pytestmark = pytest.mark.system

USERS: dict[str, set[str] | None] = {"tadmin": None, "ta": {"A"}, "": set()}
#: (where conditions as the test reads them, as the API takes them), and facet keys with units.
CASES: list[tuple[list[tuple[str, str, list[Any], str]], list[str], dict[str, Any]]] = [
    ([], [], {"key": ["photon_energy", "motor", "shutter"], "unit": ["eV", "um"]}),
    ([("photon_energy", "ge", [8], "keV")], ["photon_energy:ge:8:keV"],
     {"key": ["sample.temperature", "photon_energy", "count"], "unit": ["degC", "keV"]}),
    ([("shutter", "in", ["open", "closed"], "")], ["shutter:in:open,closed"],
     {"key": ["motor", "tags"], "unit": ["mm"], "proposal": "B"}),
]


@pytest.fixture()
def catalogue(mongo, db) -> list[dict[str, Any]]:
    rng = random.Random(2020)
    docs = []
    for n in range(150):
        doc = _dataset(n, rng.choice(["A", "B", "C"]))
        doc["ownerGroup"] = doc["proposalIds"][0]
        doc["accessGroups"] = rng.choice([[], ["A"], ["B"]])
        doc["isPublished"] = rng.random() < 0.2
        doc["instrumentIds"] = rng.choice([["p01"], ["p02"], ["p01", "p02"]])
        if rng.random() < 0.6:
            doc["dataQualityMetrics"] = rng.choice([0.5, 1, 1.5, 2, 2.33, 2.5, 3])
        status = doc["scientificMetadata"]["scan_status"]
        status["value"] = rng.choice(["finished", "finished", "aborted", "running"])
        doc["scientificMetadata"] = {**_metadata(rng), "scan_id": doc["scientificMetadata"]["scan_id"],
                                     "scan_status": status}
        docs.append(doc)
    db[DATASET_COLLECTION].insert_many(docs)
    return docs


@pytest.fixture(params=["store", "tally"])
def client(request, mongo, db, catalogue):
    """Counted by the store, and with the tally's windows (tally_from 1: every selection)."""
    tally = request.param == "tally"
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, tally=tally, tally_from=1, tokens={
        "ta": TokenUser(user="alice", groups=["A"]), "tadmin": TokenUser(user="root", groups=[], admin=True)})
    app = create_app(settings)
    with TestClient(app) as c:
        if tally:
            wait_for(app.state.tally.ready.is_set, timeout=30, what="the tally")
        yield c


def _count(values: list[Any]) -> dict[Any, int]:
    return dict(Counter(values))


def _as_dict(facet: dict[str, Any]) -> dict[Any, int]:
    assert facet["more"] == 0
    return {v["value"]: v["count"] for v in facet["values"]}


def _elements(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per stored element, for the conditions' reading of each value on its own."""
    field = "valueSI" if "valueSI" in entry else "value"
    items = entry[field] if isinstance(entry[field], list) else [entry[field]]
    return [{**entry, field: v} for v in items]


def _plain(entry: Any) -> list[Any]:
    """Where a condition without a unit looks (a bare value, value, v), list by element."""
    raws = [entry[k] for k in ("value", "v") if k in entry] if isinstance(entry, dict) else [entry]
    return [x for raw in raws for x in (raw if isinstance(raw, list) else [raw])]


def _in_bin(entry: Any, lo: float, hi: float, last: bool, unit: str) -> bool:
    """One of the entry's values is in the bin, by the conditions' meaning (lo <= v < hi)."""
    if not unit:
        singles = _plain(entry)
    elif isinstance(entry, dict) and ("valueSI" in entry or "value" in entry):
        singles = _elements(entry)
    else:
        return False
    return any(_positive("ge", [lo], unit, e) and _positive("le" if last else "lt", [hi], unit, e) for e in singles)


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("token", list(USERS))
def test_facets_agree_with_counting_the_same_documents(client, catalogue, token: str, case: int) -> None:
    conditions, where, params = CASES[case]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = client.get("/api/scans/facets", params={**params, "where": where, "bins": 8}, headers=headers)
    assert answer.status_code == 200, answer.text
    out = answer.json()
    selected = [d for d in catalogue if _readable(d, USERS[token])
                and all(_holds(c, d["scientificMetadata"]) for c in conditions)
                and (not params.get("proposal") or params["proposal"] in d["proposalIds"])]
    assert selected, "the case selects nothing: it tests nothing"
    assert (out["counted"], out["of"]) == (len(selected), len(selected))
    assert _as_dict(out["beamline"]) == _count([b for d in selected for b in d["instrumentIds"]])
    assert _as_dict(out["proposal"]) == _count([p for d in selected for p in d["proposalIds"]])
    assert _as_dict(out["status"]) == _count([d["scientificMetadata"]["scan_status"]["value"] for d in selected])
    assert _as_dict(out["rating"]) == _count([None if "dataQualityMetrics" not in d
                                             else int(d["dataQualityMetrics"] * 2) / 2 for d in selected])
    for facet in out["keys"]:
        entries = [e for d in selected if (e := _lookup(d["scientificMetadata"], facet["key"])) is not MISSING]
        assert facet["count"] == len(entries), facet["key"]
        if facet["kind"] == "number":
            bins = facet["bins"]
            assert bins and len(bins) <= 8 and all(a["hi"] == b["lo"] for a, b in itertools.pairwise(bins))
            for n, b in enumerate(bins):
                want = sum(_in_bin(e, b["lo"], b["hi"], n == len(bins) - 1, facet["unit"]) for e in entries)
                assert b["count"] == want, (facet["key"], facet["unit"], b)
        else:
            assert facet["kind"] == "text"
            want = Counter(w for e in entries for w in {x for x in _plain(e) if isinstance(x, str)})
            assert len(want) <= 10 and _as_dict(facet["top"]) == dict(want), facet["key"]


def test_a_scalar_keys_bins_hold_exactly_the_scans_their_conditions_select(client) -> None:
    """What a click on a bar does: the bin's conditions, sent to /api/scans, give its count."""
    alice = {"Authorization": "Bearer ta"}
    for key, unit in [("photon_energy", "eV"), ("photon_energy", "keV"), ("sample.temperature", "degC")]:
        out = client.get("/api/scans/facets", params={"key": key, "unit": unit, "bins": 6}, headers=alice).json()
        bins = out["keys"][0]["bins"]
        assert sum(b["count"] for b in bins) > 0
        for n, b in enumerate(bins):
            upper = "le" if n == len(bins) - 1 else "lt"
            rows = client.get("/api/scans", headers=alice, params={"limit": 1, "where": [
                f"{key}:ge:{b['lo']}:{unit}", f"{key}:{upper}:{b['hi']}:{unit}"]}).json()
            assert rows["count"] == b["count"], (key, unit, b)


@pytest.mark.parametrize("tally", [False, True])
def test_a_large_selection_is_counted_over_its_newest_scans_and_says_so(mongo, db, catalogue, tally: bool) -> None:
    """The newest scans of the union of the branches, read over the tally's window of hours
    when it has one (answer_from 1: every selection)."""
    store = ScanStore(SecretStr(mongo.uri), db.name)
    if tally:
        store.tally = Tally(store.datasets, answer_from=1)
        store.tally.start()
        wait_for(store.tally.ready.is_set, timeout=30, what="the tally")
    try:
        branches = build_branches(TokenUser(user="alice", groups=["A"]))
        readable = sorted((d for d in catalogue if _readable(d, {"A"})),
                          key=lambda d: (d["creationTime"], d["_id"]), reverse=True)
        docs, total = store.facet_sample(branches, None, facet_fields(facet_keys(["motor"], [])), 20)
        assert total == len(readable) > 20
        assert [d["_id"] for d in docs] == [d["_id"] for d in readable[:20]]
        assert set(docs[0]) <= {"_id", "creationTime", "instrumentIds", "proposalIds", "dataQualityMetrics",
                                "scientificMetadata"}
        if tally:  # the window was used: it holds the newest 20 and no more hours than needed
            windows = [store.tally.window(b, True, 20) for b in branches]
            assert any(w is not None for w in windows)
    finally:
        if store.tally is not None:
            store.tally.close()
        store.close()


def test_bad_facet_keys_are_refused_naming_them(client) -> None:
    answer = client.get("/api/scans/facets", params={"key": ["photon_energy", "$where"]})
    assert answer.status_code == 422 and "$where" in answer.text
    answer = client.get("/api/scans/facets", params={"key": "photon_energy", "unit": "kelvinometer"})
    assert answer.status_code == 422 and "kelvinometer" in answer.text

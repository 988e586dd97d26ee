"""Issue 20, what its audit found untested (on the real store, SecantusDB): every route that takes
metadata conditions documents them in OpenAPI with examples, and each documented example is one a
reader can use (answered, selecting scans, by every route); a refusal of a unit names only the
units of scans the reader may read, so conditions never tell about the others; exists, contains, is
one of, between and ≠ on every kind of key (numbers with and without a unit, text, lists, nested)
select the same in the store as in the live stream's evaluator."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from scanlog_api import ScanlogSettings, TokenUser, create_app
from scanlog_api._conditions import condition_filter, parse_condition, parse_conditions
from scanlog_api._match import matches
from scizoo.core import DATASET_COLLECTION, to_si
from tests.system.test_scan_api import _dataset
from tests.unit.test_conditions import DOCS, UNITS

pytestmark = pytest.mark.system

A = {"Authorization": "Bearer ta"}
ADMIN = {"Authorization": "Bearer tadmin"}
#: The routes that take ``where`` (one dependency, so one documentation).
ROUTES = ("/api/scans", "/api/scans.csv", "/api/scans/facets", "/api/scans/keys", "/api/stream")


def _entry(value: Any, unit: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"value": value, "unit": unit}
    if (si := to_si(value, unit)) is not None:
        out["valueSI"], out["unitSI"] = si.value, si.unit
    return out


def _scan(n: int, group: str, meta: dict[str, Any]) -> dict[str, Any]:
    doc = _dataset(n, group)
    doc.update(ownerGroup=group, accessGroups=[], isPublished=False)
    doc["scientificMetadata"] = {"scan_id": doc["scientificMetadata"]["scan_id"], **meta}
    return doc


@pytest.fixture()
def client(mongo, db):
    db[DATASET_COLLECTION].insert_many([
        _scan(1, "A", {"photon_energy": _entry(9.0, "keV"), "sample_temperature": _entry(15.0, "K"),
                       "shutter": _entry("closed"), "sample": {"temperature": _entry(10.0, "K")},
                       "motor": _entry([1.0, 2.5], "mm")}),
        _scan(2, "A", {"photon_energy": _entry(11500.0, "eV"), "shutter": _entry("open"),
                       "sample": {"temperature": _entry(300.0, "K")}}),
        _scan(3, "A", {"photon_energy": _entry(12.5, "keV"), "sample_temperature": _entry(300.0, "K"),
                       "shutter": _entry("fault")}),
        # bob's: photon_energy in kelvin (another beamline's habit), which alice may not read
        _scan(4, "B", {"photon_energy": _entry(5.0, "K")}),
    ])
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, tokens={
        "ta": TokenUser(user="alice", groups=["A"]), "tadmin": TokenUser(user="root", groups=[], admin=True)})
    with TestClient(create_app(settings)) as c:
        yield c


def _where(spec: dict[str, Any], path: str) -> dict[str, Any]:
    return next(p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == "where")


def test_every_route_that_takes_conditions_documents_them_with_examples_a_reader_can_use(
        client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    params = [_where(spec, path) for path in ROUTES]
    for path, param in zip(ROUTES, params, strict=True):
        assert "between" in param["description"] and param["examples"], path
        # the stream's filtering is said where a reader of the API looks for it
        assert "live stream" in param["description"] and "only if it matches" in param["description"], path
    examples = {name: e["value"] for name, e in params[0]["examples"].items()}
    # every kind of test the issue names has an example: ranges with units, text, exists, contains,
    # not-equal, is-one-of, a nested key, a list's elements, OR within one key
    tests = [t for ex in examples.values() for c in parse_conditions(ex) for t in c.tests()]
    assert {"between", "ge", "lt", "le", "in", "exists", "contains", "ne"} <= {t.op for t in tests}, examples
    assert any("." in t.key for t in tests) and any(len(c.tests()) > 1 for ex in examples.values()
                                                       for c in parse_conditions(ex))
    assert any(t.key == "motor" for t in tests)  # a list value ([first, last]), by any element
    # each example works as documented: answered, and selecting at least one of alice's scans
    for name, where in examples.items():
        page = client.get("/api/scans", params={"where": where}, headers=A)
        assert page.status_code == 200, (name, page.text)
        assert page.json()["count"] >= 1, (name, where)
        for path in ("/api/scans.csv", "/api/scans/facets", "/api/scans/keys"):
            assert client.get(path, params={"where": where}, headers=A).status_code == 200, (name, path)
    # the facets' key examples count a histogram of what alice holds, in the unit example
    facets = spec["paths"]["/api/scans/facets"]["get"]["parameters"]
    keys = next(p for p in facets if p["name"] == "key")["examples"]
    units = next(p for p in facets if p["name"] == "unit")["examples"]
    assert keys and units
    for example in keys.values():
        answer = client.get("/api/scans/facets", params={"key": example["value"]}, headers=A)
        assert answer.status_code == 200, answer.text
        assert [(k["kind"], k["count"] > 0) for k in answer.json()["keys"]] == [("number", True)], answer.text


def test_the_csv_and_the_stream_are_documented_as_what_they_answer(client: TestClient) -> None:
    """FastAPI calls every answer JSON unless told: the CSV's and the stream's 200 say their own
    media type, with an example a reader can follow; the CSV's is what the route sends."""
    spec = client.get("/openapi.json").json()
    answers = {path: spec["paths"][path]["get"]["responses"]["200"]["content"]
               for path in ("/api/scans.csv", "/api/stream")}
    assert list(answers["/api/scans.csv"]) == ["text/csv"] and list(answers["/api/stream"]) == ["text/event-stream"]
    assert "event: hello" in answers["/api/stream"]["text/event-stream"]["example"]
    csv = client.get("/api/scans.csv", params={"columns": "scan_id,title,meta:photon_energy"}, headers=A)
    assert csv.headers["content-type"].startswith("text/csv")
    documented = answers["/api/scans.csv"]["text/csv"]["example"].splitlines()[0]
    assert csv.text.splitlines()[0] == documented


def test_a_refused_unit_names_only_the_units_of_scans_the_reader_may_read(client: TestClient) -> None:
    """Bob's scan holds photon_energy in K: to alice the key is an energy (keV, eV) and a
    temperature condition on it is refused without naming K; to an administrator it is not."""
    seconds = client.get("/api/scans", params={"where": "photon_energy:gt:1:s"}, headers=A)
    assert seconds.status_code == 422
    assert seconds.json()["detail"] == ("condition 'photon_energy:gt:1:s': 's' is not compatible with the unit of "
                                        "'photon_energy' ('eV', 'keV')")
    kelvin = client.get("/api/scans", params={"where": "photon_energy:lt:20:K"}, headers=A)
    assert kelvin.status_code == 422 and "'K'" not in kelvin.json()["detail"].split("unit of")[1]
    for path in ("/api/scans.csv", "/api/scans/facets", "/api/scans/keys"):
        answer = client.get(path, params={"where": "photon_energy:lt:20:K"}, headers=A)
        assert answer.status_code == 422 and answer.json()["detail"] == kelvin.json()["detail"], path
    assert client.get("/api/scans", params={"where": "photon_energy:lt:20:K"}, headers=ADMIN).json()["count"] == 1
    assert "('K', 'eV', 'keV')" in client.get("/api/scans", params={"where": "photon_energy:gt:1:s"},
                                              headers=ADMIN).json()["detail"]


#: The issue's "exists, contains, is one of, between and ≠ for every kind of key": the cases
#: tests/unit/test_conditions.py did not have, on its documents (numbers with and without a unit,
#: text, lists of numbers and of text, nested keys), each with what it must select.
KIND_CASES = [
    # a number without a unit (another writer's bare value, SciCat's short form {v, u})
    ("count:between:5:8", {"bare"}),
    ("count:ne:7", {"short"}),  # has the key and is not 7
    ("count:in:3,9", {"short"}),
    # text
    ("shutter:exists", {"e8keV", "e9000eV"}),
    ("shutter:in:closed,Open", {"e8keV", "e9000eV"}),
    ("shutter:between:1:9", set()),  # a text is never inside a range of numbers
    # a list of numbers with a unit (no valueSI: compared in its own unit), and as stored
    ("motor:exists", {"motor_mm", "motor_um"}),
    ("motor:ne:9", {"motor_um"}),  # one element of [1, 9] mm is 9: eq holds, so ne does not
    ("motor:in:1,4000", {"motor_mm", "motor_um"}),
    ("motor:in:4:mm", {"motor_um"}),  # 4 mm is the 4000 um element
    ("motor:ne:4:mm", {"motor_mm"}),
    # a list of text
    ("tags:exists", {"bare"}),
    ("tags:ne:zz", {"bare"}),
    ("tags:ne:ab", set()),
    # nested: a list of bare numbers, an entry with a unit
    ("detector.roi:in:20,30", {"deep"}),
    ("detector.roi:between:15:25", {"deep"}),
    ("detector.roi:ne:15", {"deep"}),
    ('detector.roi:contains:"1"', set()),  # contains reads texts only: 10 is no text
    ("sample.temperature:in:20,30:K", {"nested"}),
    ("sample.temperature:ne:-250:degC", {"nested"}),
    ("sample.temperature:ne:20:K", set()),
    ("sample.name:ne:Ge", {"nested"}),
    ("sample.name:contains:s", {"nested"}),
]


@pytest.mark.parametrize(("text", "expected"), KIND_CASES)
def test_each_operator_on_each_kind_of_key_selects_the_same_in_the_store_and_the_live_matcher(
        db, text: str, expected: set[str]) -> None:
    """The store (SecantusDB) and the live stream's evaluator (``_match``) select what the case says."""
    cond = parse_condition(text)
    query = condition_filter(cond, UNITS.get(cond.key, ()))
    db["kinds"].insert_many([{"_id": name, **doc} for name, doc in DOCS.items()])
    assert {d["_id"] for d in db["kinds"].find(query, {"_id": 1})} == expected, query
    assert {name for name, doc in DOCS.items() if matches(query, doc)} == expected

"""Facets, the pure part (scanlog_api._facets) and its route over the in-memory store: bins a
person reads, counts that agree with the conditions a click adds, and the bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from scanlog_api import ScanlogSettings, TokenUser, create_app
from scanlog_api._facets import (
    MAX_FACET_KEYS,
    FacetError,
    FacetKey,
    count_facets,
    facet_fields,
    facet_keys,
    nice_edges,
)
from scanlog_api.testing import FakeReductions, FakeScanStore
from scizoo.core import to_si

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _entry(value: Any, unit: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"value": value, "unit": unit}
    if (si := to_si(value, unit)) is not None:
        out["valueSI"], out["unitSI"] = si.value, si.unit
    return out


def _doc(n: int, meta: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"_id": f"p/{n}", "ownerGroup": "A", "accessGroups": [], "isPublished": False, "proposalIds": ["P1"],
            "instrumentIds": ["bl1"], "creationTime": T0 + timedelta(minutes=n), "scientificMetadata": meta, **fields}


def test_bins_are_round_cover_the_range_and_stay_within_the_bound() -> None:
    assert nice_edges(8.0, 12.0, 10) == [8.0, 8.5, 9.0, 9.5, 10.0, 10.5, 11.0, 11.5, 12.0]
    assert nice_edges(0.1, 0.7, 3) == [0.0, 0.25, 0.5, 0.75]
    assert nice_edges(7100.0, 7100.0, 10) == [7000.0, 8000.0]  # one value: one round bin around it
    assert nice_edges(-253.15, -233.15, 4) == [-260.0, -250.0, -240.0, -230.0]  # 5 wide would take 5 bins
    for lo, hi, bins in [(-253.15, -233.15, 4), (1e-9, 3e-9, 7), (0.0, 1e6, 20), (3.3, 3.30001, 2), (-5, 5, 1)]:
        edges = nice_edges(lo, hi, bins)
        assert edges[0] <= lo and edges[-1] >= hi and len(edges) - 1 <= bins, (lo, hi, bins, edges)
        assert edges == sorted(set(edges)), edges


def test_counts_per_beamline_proposal_status_and_half_star() -> None:
    docs = [_doc(1, {"scan_status": _entry("finished")}, dataQualityMetrics=2.75, instrumentIds=["bl1", "bl2"]),
            _doc(2, {"scan_status": _entry("finished")}, dataQualityMetrics=2.5),
            _doc(3, {"scan_status": _entry("aborted")}, proposalIds=["P2"]),
            _doc(4, {})]
    out = count_facets(docs, [], total=10)
    assert (out.counted, out.of) == (4, 10)
    assert [(v.value, v.count) for v in out.beamline.values] == [("bl1", 4), ("bl2", 1)]
    assert [(v.value, v.count) for v in out.proposal.values] == [("P1", 3), ("P2", 1)]
    assert [(v.value, v.count) for v in out.status.values] == [("finished", 2), ("aborted", 1)]
    assert [(v.value, v.count) for v in out.rating.values] == [(2.5, 2), (None, 2)]
    capped = count_facets(docs, [], total=4, top=1)
    assert [(v.value, v.count) for v in capped.beamline.values] == [("bl1", 4)] and capped.beamline.more == 1


def test_a_histogram_in_another_unit_counts_on_valueSI_and_entries_without_it_in_their_own_unit() -> None:
    docs = [_doc(1, {"e": _entry(8000, "eV")}), _doc(2, {"e": _entry(8.5, "keV")}),
            _doc(3, {"e": {"value": [9.0, 9.2], "unit": "keV"}}),  # a list: no valueSI
            _doc(4, {"e": _entry(20, "K")}),  # another dimension: not in the histogram
            _doc(5, {"e": _entry("n/a")}), _doc(6, {})]
    facet = count_facets(docs, [FacetKey(key="e", unit="keV")], total=6, bins=4).keys[0]
    assert (facet.kind, facet.unit, facet.count, facet.unconverted) == ("number", "keV", 5, 2)
    assert [(b.lo, b.hi, b.count) for b in facet.bins] == [(8.0, 8.5, 1), (8.5, 9.0, 1), (9.0, 9.5, 1)]
    in_ev = count_facets(docs, [FacetKey(key="e", unit="eV")], total=6, bins=4).keys[0]
    assert [(b.lo, b.hi, b.count) for b in in_ev.bins] == [(8000, 8500, 1), (8500, 9000, 1), (9000, 9500, 1)]
    # The key's own unit (the most common one) when none is asked for.
    assert count_facets(docs, [FacetKey(key="e")], total=6).keys[0].unit == "keV"


def test_an_affine_unit_and_a_value_on_the_last_edge() -> None:
    docs = [_doc(n, {"t": _entry(k, "K")}) for n, k in enumerate([20.15, 30.15, 40.15])]
    facet = count_facets(docs, [FacetKey(key="t", unit="degC")], total=3, bins=2).keys[0]
    assert [(b.lo, b.hi, b.count) for b in facet.bins] == [(-260.0, -240.0, 2), (-240.0, -220.0, 1)]
    assert sum(b.count for b in facet.bins) == 3


def test_text_keys_list_their_top_values_and_a_scan_counts_once_per_value() -> None:
    docs = [_doc(1, {"shutter": _entry("open")}), _doc(2, {"shutter": _entry("closed")}),
            _doc(3, {"shutter": {"value": ["open", "open", "fault"]}}), _doc(4, {"shutter": "open"})]
    facet = count_facets(docs, [FacetKey(key="shutter")], total=4, top=2).keys[0]
    assert facet.kind == "text" and facet.bins == []
    assert [(v.value, v.count) for v in facet.top.values] == [("open", 3), ("closed", 1)] and facet.top.more == 1


def test_unitless_numbers_and_nested_keys() -> None:
    docs = [_doc(1, {"sample": {"count": 3}}), _doc(2, {"sample": {"count": {"v": 7, "u": ""}}}),
            _doc(3, {"sample": {"count": [1, 9]}})]
    facet = count_facets(docs, [FacetKey(key="sample.count")], total=3, bins=5).keys[0]
    assert (facet.kind, facet.unit) == ("number", "")
    assert [(b.lo, b.hi, b.count) for b in facet.bins] == [(0, 2, 1), (2, 4, 1), (4, 6, 0), (6, 8, 1), (8, 10, 1)]


def test_facet_keys_are_bounded_and_named_in_errors() -> None:
    assert facet_keys(["a", "b.c"], ["keV"]) == [FacetKey(key="a", unit="keV"), FacetKey(key="b.c")]
    with pytest.raises(FacetError, match=f"at most {MAX_FACET_KEYS}"):
        facet_keys([f"k{n}" for n in range(MAX_FACET_KEYS + 1)], [])
    with pytest.raises(FacetError, match="'\\$where'"):
        facet_keys(["$where"], [])
    with pytest.raises(FacetError, match="unknown unit 'parsec2x'"):
        facet_keys(["a"], ["parsec2x"])
    with pytest.raises(FacetError, match="more units than keys"):
        facet_keys(["a"], ["K", "K"])
    # A key inside another one asked for is read through it (MongoDB refuses both in a projection).
    assert facet_fields([FacetKey(key="sample"), FacetKey(key="sample.t")]) == [
        "dataQualityMetrics", "instrumentIds", "proposalIds", "scientificMetadata.sample",
        "scientificMetadata.scan_status"]


@pytest.fixture()
def client():
    store = FakeScanStore([
        _doc(1, {"e": _entry(8, "keV")}), _doc(2, {"e": _entry(9, "keV")}, ownerGroup="B", proposalIds=["P2"]),
        _doc(3, {"e": _entry(9500, "eV")}, ownerGroup="B", isPublished=True, proposalIds=["P2"])])
    app = create_app(ScanlogSettings(tokens={"ta": TokenUser(user="alice", groups=["A"])}),
                     store=store, reductions=FakeReductions(store))
    with TestClient(app) as c:
        yield c


def test_the_route_counts_only_what_the_user_may_read_and_refuses_bad_keys(client) -> None:
    alice = {"Authorization": "Bearer ta"}
    out = client.get("/api/scans/facets", params={"key": "e", "unit": "eV", "bins": 3}, headers=alice).json()
    assert (out["counted"], out["of"]) == (2, 2)  # scan 2 is B's, unpublished
    assert out["proposal"]["values"] == [{"value": "P1", "count": 1}, {"value": "P2", "count": 1}]
    assert [(b["lo"], b["hi"], b["count"]) for b in out["keys"][0]["bins"]] == [(8000, 8500, 1), (8500, 9000, 0),
                                                                                  (9000, 9500, 1)]
    narrowed = client.get("/api/scans/facets", params={"where": "e:gt:8.5:keV"}, headers=alice).json()
    assert (narrowed["counted"], narrowed["of"]) == (1, 1)
    anonymous = client.get("/api/scans/facets").json()
    assert anonymous["of"] == 1 and anonymous["proposal"]["values"] == [{"value": "P2", "count": 1}]
    bad = client.get("/api/scans/facets", params={"key": "e", "unit": "furlong/fortnight^"}, headers=alice)
    assert bad.status_code == 422 and "unknown unit" in bad.text
    assert client.get("/api/scans/facets", params={"bins": 1000}, headers=alice).status_code == 422


def test_a_value_beyond_what_the_unit_can_show_is_said_not_dropped() -> None:
    docs = [_doc(1, {"e": _entry(8, "keV")}), _doc(2, {"e": _entry(1.7e308, "keV")})]
    facet = count_facets(docs, [FacetKey(key="e", unit="eV")], total=2).keys[0]  # 1.7e311 eV: no float
    assert (facet.count, facet.unconverted, sum(b.count for b in facet.bins)) == (2, 1, 1)

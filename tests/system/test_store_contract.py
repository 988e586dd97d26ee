"""The in-memory stores of scanlog_api.testing and scidog.testing behave as the real ones on
SecantusDB, for every operation the routes use: one set of behavioural tests, run against both.

Also the access rule's filters, evaluated in memory (scanlog_api._match) and by the real
store, on the table of tests/unit/test_access_rule.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import product

import pytest
from pydantic import SecretStr

from scanlog_api import ScanStore
from scanlog_api._access import build_branches
from scanlog_api._errors import Forbidden, Invalid, NotFound
from scanlog_api._match import matches
from scanlog_api.testing import FakeScanStore
from scidog import ConfigStore
from scidog.testing import FakeConfigStore
from scizoo.core import DATASET_COLLECTION, FIXITY_COLLECTION, ORIG_DATABLOCK_COLLECTION, PROPOSAL_COLLECTION, BeamlineConfig
from scizoo.web import TokenUser
from tests.unit.test_access_rule import DOCUMENTS, READERS, SELECTIONS

pytestmark = pytest.mark.system

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ALICE, ANNA = TokenUser(user="alice", groups=["A"]), TokenUser(user="anna", groups=["A"])
CAROL, SAM = TokenUser(user="carol", groups=["C"]), TokenUser(user="sam", groups=["bl1-staff"])
ROOT = TokenUser(user="root", admin=True)


def dataset(n: int, owner: str, *, shared: list[str] | None = None, published: bool = False, title: str = "",
            energy: float | None = 100.0, minutes: int | None = None) -> dict:
    pid = f"20.500/{n}"
    meta: dict = {"scan_id": {"value": n}}
    if energy is not None:
        meta["photon_energy"] = {"value": energy, "unit": "eV"}
    when = T0 + timedelta(minutes=n if minutes is None else minutes)
    return {"_id": pid, "pid": pid, "ownerGroup": owner, "accessGroups": shared or [], "isPublished": published,
            "proposalIds": [f"P{owner}"], "instrumentIds": [f"bl{n % 2}"], "creationTime": when, "startTime": when,
            "description": title or f"scan {n}", "numberOfFiles": 1, "scientificMetadata": meta}


DATASETS = [dataset(1, "A"), dataset(2, "A", title="Beam dump", energy=None), dataset(3, "B"),
            dataset(4, "B", shared=["C"], energy=300.0), dataset(5, "B", published=True, energy=250.0),
            dataset(6, "A", minutes=2)]  # the same time as scan 2: the order falls back to _id
PROPOSALS = [{"_id": "PA", "title": "Alice's", "ownerGroup": "A", "accessGroups": []},
             {"_id": "PB", "title": "Bob's", "ownerGroup": "B", "accessGroups": []},
             {"_id": "PC", "title": "Carol's", "ownerGroup": "C", "accessGroups": ["A"]},
             {"_id": "PD", "title": "Open", "ownerGroup": "D", "accessGroups": [], "isPublished": True},
             {"_id": "PE", "title": "Closed", "ownerGroup": "E", "accessGroups": []}]
BLOCKS = [{"_id": "b1", "datasetId": "20.500/1", "size": 10, "dataFileList": [{"path": "/d/1.h5", "size": 10}]}]

Make = Callable[..., object]


@pytest.fixture(params=["fake", "real"])
def scans(request) -> Make:
    """A scan store holding DATASETS, PROPOSALS and BLOCKS: in memory, or on SecantusDB."""
    made: list[ScanStore] = []

    def make(extra: tuple[dict, ...] = (), **options):
        if request.param == "fake":
            return FakeScanStore([*DATASETS, *extra], proposals=PROPOSALS, datablocks=BLOCKS, **options)
        db = request.getfixturevalue("db")
        db[DATASET_COLLECTION].insert_many([dict(d) for d in (*DATASETS, *extra)])
        db[PROPOSAL_COLLECTION].insert_many([dict(p) for p in PROPOSALS])
        db[ORIG_DATABLOCK_COLLECTION].insert_many([dict(b) for b in BLOCKS])
        store = ScanStore(SecretStr(request.getfixturevalue("mongo").uri), db.name, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def _scan_ids(docs) -> list[int]:
    return [d["scientificMetadata"]["scan_id"]["value"] for d in docs]


def test_reading_under_the_access_rule(scans) -> None:
    store = scans()
    assert store.readable("20.500/4", CAROL)["_id"] == "20.500/4"
    for pid, user in (("20.500/3", ALICE), ("20.500/9", ALICE), ("20.500/1", None)):
        with pytest.raises(NotFound):
            store.readable(pid, user)
    with pytest.raises(Forbidden):
        store.writable("20.500/4", CAROL)  # read through accessGroups: not changed
    assert store.readable_ids(["20.500/1", "20.500/3", "20.500/5", "x"], ALICE) == {"20.500/1", "20.500/5"}


def test_pages_counts_and_order(scans) -> None:
    store = scans()
    mine = build_branches(ALICE)
    assert store.count(mine) == 4
    assert _scan_ids(store.page(mine, "creationTime", "desc", 0, 10)) == [5, 6, 2, 1]
    assert _scan_ids(store.page(mine, "creationTime", "asc", 1, 2)) == [2, 6]
    everything = build_branches(ROOT)
    energy = "scientificMetadata.photon_energy.value"
    assert _scan_ids(store.page(everything, energy, "desc", 0, 4)) == [4, 5, 6, 3]  # 6, 3, 1 at 100: by _id
    assert _scan_ids(store.merged(build_branches(CAROL), "creationTime", "asc")) == [4, 5]
    assert store.count(build_branches(None, proposal="PB")) == 1


def test_free_text_and_the_exports_bound(scans) -> None:
    store = scans(max_export_rows=3)
    page, count = store.text_page(build_branches(ALICE), "beam", "creationTime", "desc", 0, 10)
    assert (_scan_ids(page), count) == ([2], 1)
    assert _scan_ids(store.with_text(build_branches(ROOT), "", store.merged(build_branches(ROOT), "_id", "asc"))) == [
        1, 2, 3, 4, 5, 6]
    store.check_export(build_branches(ALICE, proposal="PA"))
    with pytest.raises(Invalid):
        store.check_export(build_branches(ROOT))


def test_keys_units_and_pickers(scans) -> None:
    store = scans()
    assert store.metadata_keys(build_branches(ALICE), None) == {"photon_energy": "eV", "scan_id": ""}
    assert store.metadata_keys(build_branches(ALICE), "beam") == {"scan_id": ""}
    assert store.units(["scan_id", "meta:photon_energy", "meta:scan_id"], build_branches(ALICE)) == {
        "meta:photon_energy": "eV", "meta:scan_id": ""}
    assert [p["proposalId"] for p in store.proposals(ALICE)] == ["PD", "PC", "PB", "PA"]
    assert [p["proposalId"] for p in store.proposals(None)] == ["PD", "PB"]  # published, or with a published scan
    assert {p["proposalId"] for p in store.proposals(ROOT)} >= {"PA", "PB", "PC", "PD", "PE"}
    assert store.beamlines(build_branches(CAROL)) == ["bl0", "bl1"]
    assert store.beamlines(build_branches(None)) == ["bl1"]


def test_the_csv_headers_units_come_from_the_newest_scan_that_has_one_nested_keys_too(scans) -> None:
    """One read of the selection, newest first, for every column (a look-up a column read the
    whole selection for a key no scan holds); a nested column's unit is found along its path."""
    newer = dataset(7, "A", energy=7.1)
    newer["scientificMetadata"]["photon_energy"]["unit"] = "keV"
    newer["scientificMetadata"]["sample"] = {"temperature": {"value": 20, "unit": "K"}}
    store = scans(extra=(newer,))
    columns = ["meta:photon_energy", "meta:sample.temperature", "meta:scan_id", *(f"meta:absent{n}" for n in range(50))]
    units = store.units(columns, build_branches(ALICE))
    assert units == {"meta:photon_energy": "keV", "meta:sample.temperature": "K", "meta:scan_id": "",
                     **{f"meta:absent{n}": "" for n in range(50)}}


def test_the_csv_headers_units_of_a_key_and_a_key_inside_it(scans) -> None:
    """Columns whose unit paths overlap (meta:sample and meta:sample.unit: the one's unit path
    holds the other's) are asked together in one read: the read must not fail on them."""
    newer = dataset(7, "A")
    newer["scientificMetadata"]["sample"] = {"unit": {"value": 3, "unit": "K"}}
    store = scans(extra=(newer,))
    units = store.units(["meta:sample", "meta:sample.unit", "meta:photon_energy"], build_branches(ALICE))
    assert units == {"meta:sample": "", "meta:sample.unit": "K", "meta:photon_energy": "eV"}


def test_ratings_comments_attachments_and_the_detail(scans) -> None:
    store = scans(staff_comment_groups={"bl1": "bl1-staff"})
    for user, value, minute in ((ALICE, 3.0, 1), (ANNA, 1.0, 2), (ALICE, 2.0, 3)):
        store.rate("20.500/1", user, value, T0 + timedelta(minutes=minute))
    with pytest.raises(Forbidden):
        store.rate("20.500/4", CAROL, 2.0, T0)
    assert store.readable("20.500/1", ALICE)["dataQualityMetrics"] == 1.5
    made = store.add_comment("20.500/1", ALICE, "beam dump", T0)
    with pytest.raises(Forbidden):
        store.edit_comment(made["id"], ANNA, "mine now", T0)
    assert store.edit_comment(made["id"], ALICE, "dump", T0 + timedelta(minutes=1))["text"] == "dump"
    with pytest.raises(Forbidden):
        store.add_comment("20.500/4", CAROL, "hi", T0)
    assert store.add_comment("20.500/5", SAM, "checked", T0)["author"] == "sam"  # staff of bl1
    with pytest.raises(NotFound):
        store.delete_comment("nothing", ALICE)
    attached = store.attach(store.writable("20.500/1", ALICE), ALICE, "sample", "data:image/png;base64,AA", T0)
    detail = store.detail("20.500/1", ANNA)
    assert [r["value"] for r in detail["ratings"]] == [3.0, 1.0, 2.0]
    assert [(c["author"], c["text"]) for c in detail["comments"]] == [("alice", "dump")]
    assert [a["aid"] for a in detail["attachments"]] == [attached["aid"]]
    assert detail["files"] == [{"path": "/d/1.h5", "size": 10}] and detail["scan_id"] == "1"
    store.delete_comment(made["id"], ALICE)
    assert store.detail("20.500/1", ALICE)["comments"] == []


def test_elog_entries_are_their_makers(scans) -> None:
    store = scans()
    store.record_elog_entry("e1", ALICE, T0)
    store.record_elog_entry("e1", ANNA, T0)  # recorded once: the first maker keeps it
    store.check_elog_entry("e1", ALICE)
    for entry, user in (("e1", ANNA), ("e2", ALICE)):
        with pytest.raises(Forbidden):
            store.check_elog_entry(entry, user)


def test_the_access_rules_filters_select_on_the_store_what_they_select_in_memory(db) -> None:
    datasets = db[DATASET_COLLECTION]
    datasets.insert_many([dict(d) for d in DOCUMENTS])
    for (reader, user), selection in product(READERS.items(), SELECTIONS):
        for branch in build_branches(user, **selection):
            in_memory = sorted(d["_id"] for d in DOCUMENTS if matches(branch, d))
            assert sorted(d["_id"] for d in datasets.find(branch)) == in_memory, (reader, branch)


# --- scidog ----------------------------------------------------------------------


@pytest.fixture(params=["fake", "real"])
def configs(request):
    if request.param == "fake":
        yield FakeConfigStore()
        return
    store = ConfigStore(SecretStr(request.getfixturevalue("mongo").uri), request.getfixturevalue("db").name)
    yield store
    store.close()


def _config(name: str = "default", description: str = "") -> BeamlineConfig:
    return BeamlineConfig(beamline="sim", name=name, description=description)


def test_configurations_revisions_and_the_active_one(configs) -> None:
    from scidog._errors import Conflict as DogConflict
    from scidog._errors import Invalid as DogInvalid
    from scidog._errors import NotFound as DogNotFound

    assert configs.create(_config(), "sam", T0).revision == 1
    with pytest.raises(DogConflict):
        configs.create(_config(), "sam", T0)
    configs.create(_config("spare"), "sam", T0)
    assert configs.active_name("sim") == "default" and configs.active("sim").name == "default"
    assert configs.update("sim", "default", _config(description="one"), 1, "ada", T0).revision == 2
    with pytest.raises(DogConflict, match="revision 2 \\(by ada\\)"):
        configs.update("sim", "default", _config(description="two"), 1, "sam", T0)
    with pytest.raises(DogInvalid):
        configs.update("sim", "default", _config("renamed"), 2, "sam", T0)
    assert configs.restore("sim", "default", 1, 2, "sam", T0).description == ""
    assert [(r["revision"], r["by"], r["change"]) for r in configs.revisions("sim", "default")] == [
        (3, "sam", "restored revision 1"), (2, "ada", "set description"), (1, "sam", "created")]
    assert configs.revision("sim", "default", 2).description == "one"
    assert [s["name"] for s in configs.summaries("sim") if s["active"]] == ["default"]
    with pytest.raises(DogConflict):
        configs.delete("sim", "default")  # the active one
    configs.set_active("sim", "spare", "sam", T0)
    configs.delete("sim", "default")
    with pytest.raises(DogNotFound):
        configs.get("sim", "default")
    assert configs.create(_config(), "sam", T0).revision == 1  # made again: a history of its own
    assert len(configs.revisions("sim", "default")) == 1
    assert configs.duplicate("sim", "spare", "copy", "sam", T0).name == "copy"
    assert configs.import_config(_config("copy", "imported"), "sam", T0).revision == 2
    assert configs.import_config(_config("new"), "sam", T0).revision == 1
    assert configs.beamlines() == ["sim"]


def test_fixity_summaries_by_pid_and_in_the_detail(scans, request) -> None:
    summary = {"_id": "20.500/1", "datasetId": "20.500/1", "state": "flagged", "problemCount": 1,
               "problems": [{"path": "/d/1.h5", "kind": "gone", "reason": "/d/1.h5 does not exist"}], "checkedAt": T0}
    store = scans()
    if isinstance(store, FakeScanStore):
        store.fixity[summary["_id"]] = summary
    else:
        request.getfixturevalue("db")[FIXITY_COLLECTION].insert_one(dict(summary))
    assert {k: v["state"] for k, v in store.fixity_of(["20.500/1", "20.500/2"]).items()} == {"20.500/1": "flagged"}
    assert store.fixity_of([]) == {}
    fixity = store.detail("20.500/1", ALICE)["fixity"]
    assert fixity["state"] == "flagged" and fixity["problems"][0]["kind"] == "gone" and fixity["checkedAt"] == T0.isoformat()
    assert store.detail("20.500/2", ALICE)["fixity"] is None

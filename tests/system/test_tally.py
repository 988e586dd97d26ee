"""The tally (counts per access key and hour) agrees with the store, through every kind of change.

On the real SecantusDB and its change stream: every branch the table sends is counted by
the tally exactly as `count_documents` counts it, before and after inserts, updates of the
access fields, publishing, replaces and deletes; and a page read over the tally's time
window holds exactly the rows of the unbounded query.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from scanlog_api._access import build_branches
from scanlog_api._store import ScanStore
from scanlog_api._tally import Tally
from scizoo.core import DATASET_COLLECTION, ensure_indexes
from scizoo.web import TokenUser
from tests.helpers import wait_for

pytestmark = pytest.mark.system

START = datetime(2026, 3, 1, tzinfo=UTC)
USERS = {
    "admin": TokenUser(user="admin", groups=[], admin=True),
    "a": TokenUser(user="a", groups=["pA"]),
    "b": TokenUser(user="b", groups=["pB", "friends"]),
    "anonymous": None,
}
SELECTIONS = [{}, {"proposal": "pA"}, {"proposal": "pB"}, {"beamline": "bl1"}, {"proposal": "pC", "beamline": "bl0"}]


def _dataset(i: int, rng: random.Random) -> dict:
    proposal = rng.choice(["pA", "pB", "pC"])
    doc = {
        "_id": f"t/{i:05d}", "ownerGroup": proposal, "proposalIds": [proposal],
        "instrumentIds": [f"bl{i % 2}"], "accessGroups": rng.choice([[], ["friends"], ["staff", "friends"]]),
        "isPublished": rng.random() < 0.2,
        # Uneven: bursts of scans a few seconds apart, then quiet hours.
        "creationTime": START + timedelta(seconds=i * rng.choice([5, 5, 5, 600, 7200])),
    }
    if i % 97 == 0:
        del doc["creationTime"]  # another writer's dataset without a time
    if i % 89 == 0:
        doc["proposalIds"] = proposal  # a string where SciCat has a list
    return doc


def _branch_sets() -> list[list[dict]]:
    return [build_branches(user, **selection) for user in USERS.values() for selection in SELECTIONS]


def _answers(tally: Tally, collection, branch: dict) -> bool:
    """The tally answers as the store does; or leaves it to the store, which it may only for a
    branch the odd dataset (a list as ownerGroup) could be in: one without a proposal."""
    counted = tally.count(branch)
    if counted is None:
        return "proposalIds" not in branch and tally.beamlines(branch) is None
    return (counted == collection.count_documents(branch)
            and tally.beamlines(branch) == set(collection.distinct("instrumentIds", branch)))


def _agrees(tally: Tally, collection) -> bool:
    return all(_answers(tally, collection, b) for bs in _branch_sets() for b in bs)


@pytest.fixture()
def tallied(mongo, db, prefix):
    rng = random.Random(7)
    collection = db[DATASET_COLLECTION]
    collection.insert_many([_dataset(i, rng) for i in range(600)])
    # Other writers' odd values: the number 1 is not MongoDB's true; a list as ownerGroup.
    collection.insert_many([
        {"_id": "t/odd-1", "ownerGroup": "pB", "proposalIds": ["pB"], "isPublished": 1, "creationTime": START},
        {"_id": "t/odd-2", "ownerGroup": ["pZ", "friends"], "proposalIds": ["pZ"], "isPublished": False,
         "instrumentIds": ["bl9"], "creationTime": START}])
    ensure_indexes(db)
    tally = Tally(collection, answer_from=0)
    tally.start()
    try:
        assert tally.ready.wait(30), "the tally was not built"
        yield tally, collection, rng
    finally:
        tally.close()


def test_the_tally_counts_every_branch_as_the_store_does_through_every_kind_of_change(tallied) -> None:
    tally, collection, rng = tallied
    for bs in _branch_sets():
        for branch in bs:
            assert _answers(tally, collection, branch), branch
    answered = sum(tally.count(b) is not None for bs in _branch_sets() for b in bs)
    assert answered >= 30, answered  # most branches are the tally's: this compares something
    # Written while the tally follows: each kind of change the change stream carries.
    collection.insert_many([_dataset(i, rng) for i in range(600, 650)])
    collection.update_one({"_id": "t/00001"}, {"$set": {"ownerGroup": "pB", "proposalIds": ["pB"]}})
    collection.update_many({"proposalIds": "pC", "isPublished": False}, {"$set": {"isPublished": True}})
    collection.update_one({"_id": "t/00002"}, {"$set": {"dataQualityMetrics": 2.5}})  # moves no count
    collection.update_one({"_id": "t/00003"}, {"$unset": {"accessGroups": ""}})
    collection.update_one({"_id": "t/00005"}, {"$set": {"accessGroups": ["friends", "staff"]}})
    collection.update_one({"_id": "t/00005"}, {"$pop": {"accessGroups": 1}})  # an array cut short
    collection.replace_one({"_id": "t/00004"}, {"ownerGroup": "pA", "proposalIds": ["pA"], "isPublished": False,
                                                "creationTime": START})
    collection.delete_many({"_id": {"$in": [f"t/{i:05d}" for i in range(10, 40)]}})
    collection.update_one({"_id": "t/new"}, {"$set": {"ownerGroup": "pA", "proposalIds": ["pA"]}}, upsert=True)
    wait_for(lambda: _agrees(tally, collection), timeout=30, what="the tally to agree with the store again")
    # A filter the tally does not hold is the store's to answer.
    assert tally.count({"ownerGroup": "pA", "dataQualityMetrics": {"$gte": 1}}) is None
    assert tally.count({"ownerGroup": {"$regex": "p"}}) is None


def test_a_page_over_the_tallys_window_holds_exactly_the_rows_of_the_unbounded_query(tallied, mongo, db) -> None:
    tally, collection, _ = tallied
    uri = SecretStr(mongo.uri)
    plain = ScanStore(uri, db.name)
    windowed = ScanStore(uri, db.name)
    windowed.tally = tally
    narrowed = 0
    try:
        for bs in [*_branch_sets(), build_branches(USERS["a"], since=START + timedelta(hours=2),
                                                   until=START + timedelta(days=3))]:
            for order in ("desc", "asc"):
                direction = -1 if order == "desc" else 1
                for branch in bs:
                    window = tally.window(branch, order == "desc", 20)
                    if window is None:
                        continue
                    narrowed += 1
                    # The window alone holds the branch's first 20 (the store does not
                    # fall back to the unbounded query for it).
                    first = [d["_id"] for d in collection.find(window).sort([("creationTime", direction),
                                                                             ("_id", direction)]).limit(20)]
                    assert first == [d["_id"] for d in collection.find(branch).sort(
                        [("creationTime", direction), ("_id", direction)]).limit(20)], (branch, window)
                for skip, limit in ((0, 20), (15, 10), (0, 500)):
                    got = [d["_id"] for d in windowed.page(bs, "creationTime", order, skip, limit)]
                    want = [d["_id"] for d in plain.page(bs, "creationTime", order, skip, limit)]
                    assert got == want, (bs, order, skip, limit)
                assert windowed.count(bs) == plain.count(bs)
    finally:
        plain.close()
        windowed.close()
    assert narrowed > 20  # the windows were used, not skipped: this compares something
    # A later page of a one-branch selection is a window of hours with the skip inside it.
    branch = build_branches(USERS["admin"], proposal="pA")[0]
    for order, direction in (("desc", -1), ("asc", 1)):
        branch_sorted = [d["_id"] for d in collection.find(branch).sort([("creationTime", direction), ("_id", direction)])]
        for skip in (1, 17, 60):
            sliced = tally.slice(branch, order == "desc", skip, 10)
            if order == "asc" and any("creationTime" not in d for d in collection.find(branch)):
                assert sliced is None  # datasets without a time sort first going up: no slice then
                continue
            assert sliced is not None
            window, inner = sliced
            got = [d["_id"] for d in collection.find(window).sort([("creationTime", direction), ("_id", direction)])
                   .skip(inner).limit(10)]
            assert got == branch_sorted[skip : skip + 10], (order, skip)

"""SciCat's read rule, stated once in scanlog_api._access: its store filters and its predicate agree.

Table-driven: every reader against every document (ordinary ones and the odd values other
writers leave), every selection. The filters are evaluated by scanlog_api._match, the
evaluator of the few operators they use; tests/system/test_store_contract.py runs the same
table on SecantusDB, so the evaluator is checked against the real store too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import product

import pytest

from scanlog_api._access import build_branches, can_comment, can_read, can_write, read_branches
from scanlog_api._match import UnsupportedFilter, matches
from scizoo.core import TokenUser

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

#: Who reads: nobody signed in, a member of one group, of several, of none, an admin.
READERS = {
    "anonymous": None,
    "alice (A)": TokenUser(user="alice", groups=["A"]),
    "carol (C, A)": TokenUser(user="carol", groups=["C", "A"]),
    "nobody (no groups)": TokenUser(user="nobody", groups=[]),
    "root (admin)": TokenUser(user="root", admin=True),
}

_ORDINARY = [{"ownerGroup": owner, "accessGroups": access, "isPublished": published}
             for owner, access, published in product(["A", "B"], [[], ["A"], ["B", "C"]], [False, True])]
#: What other writers leave (SciCat's schema says otherwise): each once read wrongly by a copy of the rule.
_ODD = [
    {"ownerGroup": "B", "accessGroups": [], "isPublished": 1},  # the number 1 is not MongoDB's true
    {"ownerGroup": "B", "accessGroups": [], "isPublished": "yes"},
    {"ownerGroup": "B", "accessGroups": "AC"},  # one string, not a list: not its letters
    {"ownerGroup": "B", "accessGroups": "A"},  # one string equal to a group: MongoDB matches it
    {"ownerGroup": ["Z", "A"]},  # a list where SciCat has one group: any element, as MongoDB
    {"ownerGroup": None, "accessGroups": None},
    {},  # no access fields at all
    {"ownerGroup": "B", "accessGroups": [["A"]]},  # a nested list matches no group
]
DOCUMENTS = [{"_id": f"d{i}", "proposalIds": ["P"], "instrumentIds": ["bl1"], "creationTime": T0,
              "dataQualityMetrics": 2.0, **fields} for i, fields in enumerate(_ORDINARY + _ODD)]
SELECTIONS = [{}, {"proposal": "P"}, {"proposal": "Q"}, {"beamline": "bl1", "since": T0, "until": T0},
              {"min_rating": 2.5}, {"pids": ["d0", "d13"]}]


def _selected(selection: dict, doc: dict) -> bool:
    """What the selection asks for, before any access rule."""
    return matches(build_branches(TokenUser(user="root", admin=True), **selection)[0], doc)


@pytest.mark.parametrize("reader", READERS)
def test_the_filters_and_the_predicate_select_the_same_documents_each_once(reader) -> None:
    user = READERS[reader]
    for selection, doc in product(SELECTIONS, DOCUMENTS):
        branches = build_branches(user, **selection)
        hits = sum(matches(b, doc) for b in branches)
        expected = can_read(user, doc) and _selected(selection, doc)
        assert hits == int(expected), (reader, selection, doc)  # the same set, and no document twice


def test_the_rule_is_scicats() -> None:
    """The rule itself, on plain cases a person can check by eye."""
    alice, anonymous = READERS["alice (A)"], READERS["anonymous"]
    assert can_read(alice, {"ownerGroup": "A"})
    assert can_read(alice, {"ownerGroup": "B", "accessGroups": ["C", "A"]})
    assert not can_read(alice, {"ownerGroup": "B", "accessGroups": ["C"]})
    assert can_read(anonymous, {"ownerGroup": "B", "isPublished": True})
    assert not can_read(anonymous, {"ownerGroup": "A"})
    assert can_read(READERS["root (admin)"], {})
    # Odd values are read as the store reads them: the predicate never lets more through.
    assert not can_read(anonymous, {"isPublished": 1})
    assert not can_read(alice, {"ownerGroup": "B", "accessGroups": "AC"})


@pytest.mark.parametrize("reader", READERS)
def test_writing_is_the_owners_and_implies_reading(reader) -> None:
    user = READERS[reader]
    for doc in DOCUMENTS:
        owner = doc.get("ownerGroup")
        owns = user is not None and (user.admin or bool(set(owner if isinstance(owner, list) else [owner])
                                                          & set(user.groups)))
        assert can_write(user, doc) == owns, (reader, doc)
        assert not can_write(user, doc) or can_read(user, doc)
        # Staff of the beamline comment where the facility allows it; writers always.
        staff = {"bl1": "A"}
        assert can_comment(user, doc, staff) == (owns or (user is not None and "A" in user.groups)), (reader, doc)


def test_the_branches_keep_the_shape_the_stores_planner_needs() -> None:
    """Flat (no $or), the common grant's branch starting from the selection's own fields."""
    alice = READERS["alice (A)"]
    branches = build_branches(alice, proposal="P")
    assert [list(b) for b in branches] == [
        ["proposalIds", "ownerGroup"],
        ["accessGroups", "proposalIds", "ownerGroup"],
        ["isPublished", "proposalIds", "ownerGroup", "accessGroups"]]
    assert build_branches(None, proposal="P") == [{"proposalIds": "P", "isPublished": True}]
    assert build_branches(READERS["root (admin)"], proposal="P") == [{"proposalIds": "P"}]
    assert read_branches(alice) == [{"ownerGroup": {"$in": ["A"]}},
                                    {"accessGroups": {"$in": ["A"]}, "ownerGroup": {"$nin": ["A"]}},
                                    {"isPublished": True, "ownerGroup": {"$nin": ["A"]},
                                     "accessGroups": {"$nin": ["A"]}}]


def test_the_evaluator_refuses_what_it_cannot_match_as_the_store_would() -> None:
    # ($regex with "i", $or/$and/$nor, $elemMatch, $not and $type "array" are matched since
    # the metadata conditions use them: tests/system/test_conditions.py compares with the store)
    for query in ({"ownerGroup": {"$regex": "A", "$options": "s"}}, {"$where": "true"}, {"$or": []},
                  {"ownerGroup": {"$size": 1}}, {"ownerGroup": {"$type": "string"}}, {"meta": {"a": 1}}):
        with pytest.raises(UnsupportedFilter):
            matches(query, {"ownerGroup": "A", "meta": {"a": 1}})


def test_the_live_stream_sends_a_subscriber_what_the_table_would_show_it() -> None:
    import asyncio

    from scanlog_api._live import Subscriber

    async def check() -> None:
        for (reader, user), proposal, beamline in product(READERS.items(), [None, "P", "Q"], [None, "bl1", "bl2"]):
            sub = Subscriber(user, proposal, beamline)
            for doc in DOCUMENTS:
                # From the rule and the selection stated apart, not from the branches the stream uses.
                expected = can_read(user, doc) and _selected({"proposal": proposal, "beamline": beamline}, doc)
                assert sub.wants(doc) == expected, (reader, proposal, beamline, doc)

    asyncio.run(check())

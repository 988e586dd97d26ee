"""SciCat's access rule, in one place: who may read a dataset, and who may change it.

Read: members of its ``ownerGroup`` or of any of its ``accessGroups``, and anyone once it
is published; admins read everything. The rule is stated once, as the reader's
:func:`grants` (a field of the document and the values that let this reader in), and
rendered twice from that one statement: as flat, disjoint store filters
(:func:`build_branches`, :func:`read_branches`: the table's queries, the tally, the
proposal picker) and as a predicate on a document in hand (:func:`can_read`: the live
stream), which evaluates each grant's own filter with ``_match``. A test checks on a
table of odd and ordinary documents that the two select exactly the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scizoo.core import TokenUser

from ._conditions import and_into
from ._match import matches


@dataclass(frozen=True)
class Grant:
    """One way in: the document's ``field`` holds one of ``values`` (as MongoDB's ``$in``
    matches, any element of a list field); ``equals``: the one value, as plain equality."""

    field: str
    values: tuple[Any, ...]
    equals: bool = False

    def condition(self) -> Any:
        return self.values[0] if self.equals else {"$in": list(self.values)}

    def negation(self) -> Any:
        return {"$ne": self.values[0]} if self.equals else {"$nin": list(self.values)}

    def admits(self, doc: dict[str, Any]) -> bool:
        return matches({self.field: self.condition()}, doc)


#: Anyone may read a published dataset.
PUBLISHED = Grant("isPublished", (True,), equals=True)


def owners(groups: tuple[str, ...]) -> Grant:
    """Members of the document's ``ownerGroup``: they read it, and they alone (with admins) change it."""
    return Grant("ownerGroup", groups)


def grants(user: TokenUser | None) -> list[Grant] | None:
    """SciCat's read rule for one reader: the grants that let them in, most common first
    (None: an admin, who reads everything). Members of a group read what it owns and what
    it was given access to; everyone reads what is published."""
    if user is not None and user.admin:
        return None
    groups = tuple(user.groups) if user is not None else ()
    if not groups:
        return [PUBLISHED]
    return [owners(groups), Grant("accessGroups", groups), PUBLISHED]


def read_branches(user: TokenUser | None, base: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The documents matching ``base`` that the user may read, as disjoint, flat filters.

    Flat on purpose: a store may use an index only for a plain top-level conjunction
    (SecantusDB scans the whole collection as soon as a filter holds ``$or`` or ``$and``;
    measured in docs/performance.md). So each grant is a branch of its own, which also
    excludes the grants before it: counts add up and pages are merged.
    """
    base = dict(base or {})
    ways = grants(user)
    if ways is None:
        return [base]
    branches: list[dict[str, Any]] = []
    for n, grant in enumerate(ways):
        earlier = {g.field: g.negation() for g in ways[:n]}
        # Key order matters to SecantusDB's planner (measured): it starts from the first
        # field's index. The usual reader reaches a proposal through the first grant, so its
        # branch starts from the proposal/time index; the others start from their rarer
        # access field, which makes them nearly free when they match nothing.
        if n == 0:
            branches.append({**base, grant.field: grant.condition()})
        else:
            branches.append({grant.field: grant.condition(), **base, **earlier})
    return branches


def build_branches(
    user: TokenUser | None,
    *,
    proposal: str | None = None,
    beamline: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    min_rating: float | None = None,
    pids: list[str] | None = None,
    conditions: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The table's selection as disjoint, flat MongoDB filters, whose union is what the user
    may see (:func:`read_branches` of the selection). ``conditions``: store filters of
    metadata conditions (``_conditions``), ANDed into the selection, hence into every
    access branch: a condition narrows what one may read, never widens it."""
    base: dict[str, Any] = {}
    if proposal:
        base["proposalIds"] = proposal
    if beamline:
        base["instrumentIds"] = beamline
    if since or until:
        rng: dict[str, Any] = {}
        if since:
            rng["$gte"] = since
        if until:
            rng["$lte"] = until
        base["creationTime"] = rng
    if pids is not None:
        base["_id"] = {"$in": pids}
    if min_rating is not None:
        base["dataQualityMetrics"] = {"$gte": min_rating}
    return read_branches(user, and_into(base, conditions or []))


def can_read(user: TokenUser | None, doc: dict[str, Any]) -> bool:
    """SciCat's read rule for one document in hand (the live stream): one of the reader's
    grants admits it, by the same filters the store is given."""
    ways = grants(user)
    return ways is None or any(g.admits(doc) for g in ways)


def can_write(user: TokenUser | None, doc: dict[str, Any]) -> bool:
    """SciCat's write rule: members of the dataset's ``ownerGroup``, and admins.

    Reading never implies writing: a member of an ``accessGroups`` group, or anyone on a
    published dataset, may read it but not change it.
    """
    if user is None:
        return False
    return user.admin or owners(tuple(user.groups)).admits(doc)


def can_comment(user: TokenUser | None, doc: dict[str, Any], staff_groups: dict[str, str]) -> bool:
    """Who may comment: whoever may write, and, where a facility allows it (``staff_groups``
    maps a beamline to its staff group), the staff of the dataset's beamline."""
    if can_write(user, doc):
        return True
    if user is None or not staff_groups:
        return False
    groups = set(user.groups)
    return any(staff_groups.get(b) in groups for b in doc.get("instrumentIds") or ())

"""SciCat's access rule, in one place: who may read a dataset, and who may change it.

Read: members of its ``ownerGroup`` or of any of its ``accessGroups``, and anyone once it
is published; admins read everything. The rule exists twice on purpose, as store-side
filters (:func:`build_branches`, for queries) and on a document in hand (:func:`can_read`,
for the live stream); a test checks that they select exactly the same documents.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from scizoo.core import TokenUser


def build_branches(
    user: TokenUser | None,
    *,
    proposal: str | None = None,
    beamline: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    min_rating: float | None = None,
    pids: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The selection as disjoint, flat MongoDB filters, whose union is what the user may see.

    Flat on purpose: a store may use an index only for a plain top-level conjunction
    (SecantusDB scans the whole collection as soon as a filter holds ``$or`` or ``$and``;
    measured in docs/performance.md). So SciCat's rule "published, or ownerGroup in my
    groups, or accessGroups in my groups" becomes up to three disjoint branches; counts
    add up and pages are merged.
    """
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
    if user is not None and user.admin:
        return [base]
    groups = list(user.groups) if user is not None else []
    if not groups:
        return [{**base, "isPublished": True}]
    # Key order matters to SecantusDB's planner (measured): it starts from the first field's
    # index. The usual reader reaches a proposal through ownerGroup, so the first branch
    # starts from the proposal/time index; the other two start from their rarer access
    # field, which makes them nearly free when they match nothing.
    return [
        {**base, "ownerGroup": {"$in": groups}},
        {"accessGroups": {"$in": groups}, **base, "ownerGroup": {"$nin": groups}},
        {"isPublished": True, **base, "ownerGroup": {"$nin": groups}, "accessGroups": {"$nin": groups}},
    ]


def can_read(user: TokenUser | None, doc: dict[str, Any]) -> bool:
    """SciCat's read rule for one document in hand (the live stream; the reference the
    store-side filters in :func:`build_branches` are tested against)."""
    if doc.get("isPublished"):
        return True
    if user is None:
        return False
    if user.admin:
        return True
    groups = set(user.groups)
    return doc.get("ownerGroup") in groups or bool(groups & set(doc.get("accessGroups") or ()))


def can_write(user: TokenUser | None, doc: dict[str, Any]) -> bool:
    """SciCat's write rule: members of the dataset's ``ownerGroup``, and admins.

    Reading never implies writing: a member of an ``accessGroups`` group, or anyone on a
    published dataset, may read it but not change it.
    """
    if user is None:
        return False
    return user.admin or doc.get("ownerGroup") in set(user.groups)


def can_comment(user: TokenUser | None, doc: dict[str, Any], staff_groups: dict[str, str]) -> bool:
    """Who may comment: whoever may write, and, where a facility allows it (``staff_groups``
    maps a beamline to its staff group), the staff of the dataset's beamline."""
    if can_write(user, doc):
        return True
    if user is None or not staff_groups:
        return False
    groups = set(user.groups)
    return any(staff_groups.get(b) in groups for b in doc.get("instrumentIds") or ())

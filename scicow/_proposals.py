"""Proposal look-up: SciCat's Proposal collection first, then the facility's user office."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests
from pydantic import ValidationError
from pymongo.collection import Collection

from scizoo.core import Proposal

from ._rules import Lookup

logger = logging.getLogger(__name__)


class ProposalLookup:
    """Finds proposals, caching answers (found ones long, misses briefly).

    A proposal found only at the user office is copied into the Proposal collection,
    so SciCat shows it and the next look-up needs no HTTP call.
    """

    def __init__(
        self,
        collection: Collection[dict[str, Any]],
        user_office_url: str | None = None,
        user_office_token: str | None = None,
        *,
        ttl_s: float = 300.0,
        miss_ttl_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        http_timeout_s: float = 5.0,
    ) -> None:
        self._collection = collection
        self._url = user_office_url.rstrip("/") if user_office_url else None
        self._token = user_office_token
        self._ttl = ttl_s
        self._miss_ttl = miss_ttl_s
        self._clock = clock
        self._now = now  # the copy's createdAt/updatedAt (SciCat sorts and filters on them)
        self._timeout = http_timeout_s
        self._cache: dict[str, tuple[float, Lookup]] = {}
        self._session = requests.Session()

    def get(self, proposal_id: str, *, fresh: bool = False) -> Lookup:
        now = self._clock()
        cached = self._cache.get(proposal_id)
        if cached and not fresh and cached[0] > now:
            return cached[1]
        answer = self._lookup(proposal_id)
        ttl = self._ttl if answer.proposal else self._miss_ttl
        self._cache[proposal_id] = (now + ttl, answer)
        return answer

    def _lookup(self, proposal_id: str) -> Lookup:
        doc = self._collection.find_one({"_id": proposal_id})
        if doc is not None:
            try:
                return Lookup(Proposal.from_document(doc))
            except ValidationError as err:
                return Lookup(None, f"proposal {proposal_id} in the catalogue is malformed: {err.error_count()} errors")
        if not self._url:
            return Lookup(None, f"proposal {proposal_id!r} is not in the catalogue")
        return self._ask_user_office(proposal_id)

    def _ask_user_office(self, proposal_id: str) -> Lookup:
        url = f"{self._url}/proposals/{quote(proposal_id, safe='')}"
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        try:
            response = self._session.get(url, headers=headers, timeout=self._timeout)
        except requests.RequestException as err:
            # Never log the token; the URL carries none.
            return Lookup(None, f"user office unreachable: {type(err).__name__}")
        if response.status_code == 404:
            return Lookup(None, f"proposal {proposal_id!r} is unknown to the catalogue and the user office")
        if response.status_code != 200:
            return Lookup(None, f"user office answered HTTP {response.status_code} for proposal {proposal_id!r}")
        try:
            data = response.json()
        except ValueError:
            return Lookup(None, f"user office answered {proposal_id!r} with something that is not JSON")
        if not isinstance(data, dict):
            return Lookup(None, f"user office answered {proposal_id!r} with a JSON {type(data).__name__}, not an object")
        try:
            proposal = Proposal.model_validate({"proposalId": proposal_id, "ownerGroup": proposal_id, **data})
            document = proposal.to_document(now=self._now())  # SciCat's Proposal shape: a title and an email, dates
        except ValidationError as err:
            first = err.errors()[0]
            return Lookup(None, f"user office sent an unreadable proposal {proposal_id!r}: "
                                f"{err.error_count()} problem(s), first: {'.'.join(map(str, first['loc']))}: "
                                f"{first['msg']}")
        if proposal.proposalId != proposal_id:
            return Lookup(None, f"user office answered for {proposal.proposalId!r} when asked for {proposal_id!r}")
        self._collection.replace_one({"_id": proposal_id}, document, upsert=True)
        logger.info("proposal %s copied from the user office into the catalogue", proposal_id)
        return Lookup(proposal)

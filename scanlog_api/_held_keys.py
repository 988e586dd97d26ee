"""Which metadata keys the scans a reader may read hold: a condition on a key none of them
holds is refused by name (422), and this must never reveal keys of scans one may not read, nor
cost a request more than :data:`KEY_LOOKUP_S`.

A key is remembered as held per access scope (the access rule's branches); else seen among the
newest scans of each branch (read as a page is); else looked up, one query a branch, until the
time is spent: a key not found in time is taken as held (its condition then finds nothing).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pymongo.errors import ExecutionTimeout

from ._conditions import key_units, metadata_path
from ._match import UnsupportedFilter, matches

if TYPE_CHECKING:
    from ._tally import Tally

Doc = dict[str, Any]

#: Whether a condition's key is held is seen first in this many of the newest scans of each branch,
KEY_SAMPLE = 50
#: then looked up in all of them, stopping after this long in all (a request).
KEY_LOOKUP_S = 0.5
#: At most this many (scope, key) pairs are remembered as held (then forgotten all at once),
MAX_HELD_KEYS = 10_000
#: each for this long when a scan was seen to hold it, this long when its look-up ran out of time.
HELD_KEY_S = 3600.0
UNPROVEN_KEY_S = 60.0


class _OutOfTime(Exception):
    """A key's look-up ran out of its time."""


class HeldKeys:
    """The keys scopes of the access rule were seen to hold, over the store's reads: ``reads``
    (as ``ScanStore._read``), ``newest`` (a branch's newest scans) and ``tally`` (its hours, or None)."""

    def __init__(self, reads: Callable[..., Iterator[Doc]], newest: Callable[..., Iterator[Doc]],
                 tally: Callable[[], Tally | None]) -> None:
        self._reads, self._newest_of, self._tally = reads, newest, tally
        self._known: dict[tuple[str, str], tuple[str, float]] = {}

    def among(self, branches: list[Doc], among: list[str]) -> dict[str, str]:
        """Which of the keys ``among`` a scan of the branches holds, with the unit of the first found."""
        scope = json.dumps(branches, sort_keys=True, default=str)  # the access rule's branches
        now = time.monotonic()
        keys = {k: seen[0] for k in among if (seen := self._known.get((scope, k))) and seen[1] > now}
        deadline = time.monotonic() + KEY_LOOKUP_S
        if len(keys) < len(among):
            keys.update(self._held_by_newest(branches, [k for k in among if k not in keys], deadline))
        unproven: dict[str, str] = {}
        for key in among:
            try:
                if key not in keys and (held := self._key_held(branches, key, deadline)) is not None:
                    keys[key] = held
            except _OutOfTime:
                unproven[key] = ""
        if len(self._known) > MAX_HELD_KEYS:
            self._known.clear()
        # A key seen stays known a while (scans are rarely deleted; if it goes, a condition
        # on it finds nothing rather than a 422); one not found in time is taken as held for
        # a shorter while (each request would otherwise spend the whole time on it again);
        # one not held is asked again at the next request, as a new scan may bring it.
        self._known.update({(scope, k): (u, now + HELD_KEY_S) for k, u in keys.items()})
        self._known.update({(scope, k): (u, now + UNPROVEN_KEY_S) for k, u in unproven.items()})
        keys.update(unproven)
        return keys

    def _held_by_newest(self, branches: list[Doc], keys: list[str], deadline: float) -> dict[str, str]:
        """Which of ``keys`` the newest :data:`KEY_SAMPLE` scans of each branch hold, with a unit:
        the usual answer (a beamline writes its keys into every scan), read as a page is (over
        the tally's window of hours when it has one), until ``deadline``."""
        fields = {key: metadata_path(key) for key in keys}
        # the keys' top-level entries (a key and one nested in it in one projection: a path collision)
        projection = dict.fromkeys((*{metadata_path(k.split(".")[0]) for k in keys}, "creationTime"), 1)
        held: dict[str, str] = {}
        tally = self._tally()
        for branch in branches:
            window = tally.window(branch, True, KEY_SAMPLE) if tally is not None else None
            try:
                docs = self._newest_until(window, projection, deadline) if window is not None else []
                if len(docs) < KEY_SAMPLE:
                    docs = self._newest_until(branch, projection, deadline)
            except _OutOfTime:
                break
            for doc in docs:
                for key in [k for k in keys if k not in held]:
                    try:
                        if matches({fields[key]: {"$exists": True}}, doc):
                            held[key] = dict(key_units(doc.get("scientificMetadata"))).get(key, "")
                    except UnsupportedFilter:  # a list of lists on the way: the store decides
                        continue
            if len(held) == len(keys):
                break
        return held

    def _newest_until(self, query: Doc, projection: Doc, deadline: float) -> list[Doc]:
        left_ms = int((deadline - time.monotonic()) * 1000)
        if left_ms <= 0:
            raise _OutOfTime(query)
        try:
            return list(self._newest_of(query, projection, KEY_SAMPLE, max_time_ms=left_ms))
        except ExecutionTimeout as err:
            raise _OutOfTime(query) from err

    def _key_held(self, branches: list[Doc], key: str, deadline: float) -> str | None:
        """The unit of ``key`` in the first scan of the branches that holds it ("" without one),
        None when none does. One query a branch, which MongoDB stops at the first hit; a store
        without an index on the key reads the branch (SecantusDB reads it whole even to a hit),
        so the look-ups stop at ``deadline`` (:class:`_OutOfTime`: the caller takes the key as
        held, its absence not proven, and the condition is applied)."""
        field = metadata_path(key)
        for branch in branches:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                raise _OutOfTime(key)
            try:
                hit = next(self._reads({**branch, field: {"$exists": True}}, {field: 1}, limit=1,
                                      max_time_ms=left_ms), None)
            except ExecutionTimeout as err:
                raise _OutOfTime(key) from err
            if hit is not None:
                return dict(key_units(hit.get("scientificMetadata"))).get(key, "")
        return None

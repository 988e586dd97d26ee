"""The small interfaces in front of the scan table's stores: what the routes and the publisher use.

:class:`~scanlog_api._store.ScanStore` (MongoDB) and
:class:`~scanlog_api.testing.FakeScanStore` (in memory) both provide :class:`Scans`; the
same behavioural tests run against both (tests/system/test_store_contract.py), so route
and rule logic can be tested in a second against the fake (tests/unit/test_scanlog_routes.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Literal, Protocol

from scizoo.core import ReductionRuleSet, TokenUser

Doc = dict[str, Any]
Order = Literal["asc", "desc"]


class ScanReads(Protocol):
    """Reading scans under the access rule: what publishing needs."""

    def readable(self, pid: str, user: TokenUser | None) -> Doc:
        """The dataset if the user may read it; else NotFound (whether or not it exists)."""

    def readable_ids(self, pids: list[Any], user: TokenUser | None) -> set[Any]:
        """Which of these datasets the user may read."""


class Scans(ScanReads, Protocol):
    """Everything the scan table's routes ask of its store (selections come as the disjoint
    branches of ``_access``)."""

    def writable(self, pid: str, user: TokenUser) -> Doc: ...

    def merged(self, branches: list[Doc], field: str, order: Order, limit: int = 0) -> Iterator[Doc]: ...

    def page(self, branches: list[Doc], field: str, order: Order, skip: int, limit: int) -> list[Doc]: ...

    def count(self, branches: list[Doc]) -> int: ...

    def with_text(self, branches: list[Doc], text: str | None, docs: Iterable[Doc]) -> Iterator[Doc]: ...

    def text_page(self, branches: list[Doc], text: str, field: str, order: Order, skip: int,
                  limit: int) -> tuple[list[Doc], int]: ...

    def metadata_keys(self, branches: list[Doc], text: str | None,
                      among: list[str] | None = None) -> dict[str, str]:
        """The selection's metadata keys ('.' joins nested ones) with a unit where known; with
        ``among``, which of these keys some scan of the selection holds (bounded look-ups)."""

    def check_export(self, branches: list[Doc]) -> None: ...

    def units(self, columns: list[str], branches: list[Doc]) -> dict[str, str]: ...

    def key_unit_sets(self, branches: list[Doc], keys: list[str]) -> dict[str, tuple[set[str], set[str]]]:
        """Each key's units in the selection, and those of its entries without ``valueSI``."""

    def facet_sample(self, branches: list[Doc], text: str | None, fields: list[str],
                     limit: int) -> tuple[list[Doc], int]:
        """The selection's newest ``limit`` documents (``fields`` at least), and how many it holds."""

    def detail(self, pid: str, user: TokenUser | None) -> Doc: ...

    def fixity_of(self, pids: list[str]) -> dict[str, Doc]:
        """The fixity worker's summaries of these datasets (pids the caller has read), by pid."""

    def proposals(self, user: TokenUser | None, limit: int = ...) -> list[Doc]: ...

    def beamlines(self, branches: list[Doc], limit: int = ...) -> list[str]: ...

    def rate(self, pid: str, user: TokenUser, value: float | None, now: datetime) -> None: ...

    def add_comment(self, pid: str, user: TokenUser, text: str, now: datetime) -> Doc: ...

    def edit_comment(self, comment_id: str, user: TokenUser, text: str, now: datetime) -> Doc: ...

    def delete_comment(self, comment_id: str, user: TokenUser) -> None: ...

    def check_elog_entry(self, entry_id: str, user: TokenUser) -> None: ...

    def record_elog_entry(self, entry_id: str, user: TokenUser, now: datetime) -> None: ...

    def attach(self, dataset: Doc, user: TokenUser, caption: str, thumbnail: str, now: datetime) -> Doc: ...

    def ping(self) -> None: ...

    def ensure_collections(self) -> None: ...

    def ensure_indexes(self) -> None: ...

    def close(self) -> None: ...


class ScanJobs(Protocol):
    """What the routes ask of the scans' reduction jobs (``_reductions.Reductions``)."""

    def of_scans(self, pids: list[str], user: TokenUser | None) -> dict[str, list[Doc]]: ...

    def jobs(self, user: TokenUser | None, state: str | None, limit: int) -> list[Doc]: ...

    def request_rerun(self, pid: str, user: TokenUser, rule: str, params: dict[str, dict[str, Any]],
                      now: datetime) -> Doc: ...

    def cancel(self, job_id: str, user: TokenUser, now: datetime) -> Doc: ...

    def rules(self) -> Doc: ...

    def set_rules(self, user: TokenUser, revision: int, rules: ReductionRuleSet, now: datetime) -> Doc: ...

    def rule_rights(self, user: TokenUser) -> Doc: ...

    def rule_history(self, limit: int) -> Doc: ...

    def rule_revision(self, number: int) -> Doc: ...

    def rule_diff(self, old: int, new: int) -> Doc: ...

    def restore_rules(self, user: TokenUser, number: int, revision: int, now: datetime) -> Doc: ...

    def dry_run(self, user: TokenUser, rules: ReductionRuleSet) -> Doc: ...

    def pipelines(self) -> list[Doc]: ...

"""In-memory stand-ins for the scan table's stores, for tests of the routes and rules (as
scitacean ships ``FakeClient``): never imported at runtime.

:class:`FakeScanStore` holds datasets, proposals, datablocks and annotations in dicts and
answers every :class:`~scanlog_api._ports.Scans` call as the MongoDB store does: the same
access branches, evaluated by the same filter evaluator as the access rule's predicate
(``_match``), the same rules above the store (``_scans.ScanRules``). A behavioural test
runs against both (tests/system/test_store_contract.py). :class:`FakeReductions` holds
the jobs a test gives it.

Here, not in :mod:`scizoo.testing`: a fake of this app's store implements this app's
interface with its access rule, so it imports ``scanlog_api``; :mod:`scizoo.testing` is
imported by :mod:`scifish.testing` on capture machines, which must not pull in the web
stack or pymongo (import-linter's capture contract).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scizoo.core import ReductionRuleSet, TokenUser, build_attachment

from ._access import build_branches, read_branches
from ._conditions import key_units, metadata_path
from ._errors import Conflict, Forbidden, NotConfigured, NotFound
from ._match import matches, note_units, reached_values
from ._ports import ScanJobs, Scans
from ._scans import (
    MAX_EXPORT_ROWS,
    MAX_PICKER,
    Doc,
    Order,
    ScanRules,
    add_keys,
    average_rating,
    comment_out,
    detail_view,
)
from ._table import jsonable, sort_key
from ._views import SavedView, ViewRules

__all__ = ["FakeReductions", "FakeScanStore", "FakeViewStore"]


class FakeScanStore(ScanRules):
    """The scan table's store in memory: give it Dataset documents (and proposals, datablocks)."""

    def __init__(self, datasets: Iterable[Doc] = (), *, proposals: Iterable[Doc] = (),
                 datablocks: Iterable[Doc] = (), staff_comment_groups: dict[str, str] | None = None,
                 max_export_rows: int = MAX_EXPORT_ROWS) -> None:
        super().__init__(staff_comment_groups=staff_comment_groups, max_export_rows=max_export_rows)
        self._lock = threading.Lock()
        self.datasets: dict[Any, Doc] = {}
        self.proposal_docs: dict[str, Doc] = {str(p["_id"]): dict(p) for p in proposals}
        self.datablocks: list[Doc] = [dict(b) for b in datablocks]
        self.attachments: dict[str, list[Doc]] = {}
        self.ratings: list[Doc] = []
        self.comments: dict[str, Doc] = {}
        self.elog_entries: dict[str, Doc] = {}
        #: The fixity worker's summaries (scifix's ScizooFixity documents), by pid.
        self.fixity: dict[str, Doc] = {}
        for doc in datasets:
            self.add(doc)

    def add(self, doc: Doc) -> None:
        """Store a Dataset document (``_id`` is its pid, as SciCat's are)."""
        with self._lock:
            self.datasets[doc["_id"]] = dict(doc)

    def _find(self, branches: list[Doc]) -> list[Doc]:
        with self._lock:
            docs = list(self.datasets.values())
        return [d for d in docs if any(matches(b, d) for b in branches)]

    # --- lifecycle (nothing to open) ------------------------------------------

    def ping(self) -> None:
        pass

    def ensure_collections(self) -> None:
        pass

    def ensure_indexes(self) -> None:
        pass

    def close(self) -> None:
        pass

    # --- reading ----------------------------------------------------------------

    def readable(self, pid: str, user: TokenUser | None) -> Doc:
        found = self._find(build_branches(user, pids=[pid]))
        if not found:
            raise NotFound(f"no dataset {pid!r} you can read")
        return found[0]

    def readable_ids(self, pids: list[Any], user: TokenUser | None) -> set[Any]:
        return {d["_id"] for d in self._find(build_branches(user, pids=pids))} if pids else set()

    def merged(self, branches: list[Doc], field: str, order: Order, limit: int = 0) -> Iterator[Doc]:
        key = sort_key(field)
        runs = [sorted(self._find([b]), key=key, reverse=order == "desc")[: limit or None] for b in branches]
        return heapq.merge(*runs, key=key, reverse=order == "desc")

    def page(self, branches: list[Doc], field: str, order: Order, skip: int, limit: int) -> list[Doc]:
        return list(itertools.islice(self.merged(branches, field, order), skip, skip + limit))

    def count(self, branches: list[Doc]) -> int:
        return len(self._find(branches))

    def metadata_keys(self, branches: list[Doc], text: str | None,
                      among: list[str] | None = None) -> dict[str, str]:
        keys: dict[str, str] = {}
        if among is not None:  # as the store asks: a scan where the key's field exists
            for key in among:
                held = (d for d in self._find(branches) if matches({metadata_path(key): {"$exists": True}}, d))
                if (doc := next(held, None)) is not None:
                    keys[key] = dict(key_units(doc.get("scientificMetadata"))).get(key, "")
            return keys
        add_keys(keys, self.with_text(branches, text, self._find(branches)))
        return dict(sorted(keys.items()))

    def units(self, columns: list[str], branches: list[Doc]) -> dict[str, str]:
        units = {}
        newest = sorted(self._find(branches), key=lambda d: d["creationTime"], reverse=True)
        for col in (c for c in columns if c.startswith("meta:")):
            found = (u for d in newest for u in reached_values(d, f"scientificMetadata.{col[5:]}.unit"))
            units[col] = next((u for u in found if isinstance(u, str) and u), "")
        return units

    def key_unit_sets(self, branches: list[Doc], keys: list[str]) -> dict[str, tuple[set[str], set[str]]]:
        out: dict[str, tuple[set[str], set[str]]] = {key: (set(), set()) for key in keys}
        for doc in self._find(branches):
            note_units(out, doc)
        return out

    def facet_sample(self, branches: list[Doc], text: str | None, fields: list[str],
                     limit: int) -> tuple[list[Doc], int]:
        found = list(self.with_text(branches, text, self.merged(branches, "creationTime", "desc")))
        return found[:limit], len(found)

    def detail(self, pid: str, user: TokenUser | None) -> Doc:
        doc = self.readable(pid, user)
        with self._lock:
            return detail_view(
                doc, files=[f for b in self.datablocks if b.get("datasetId") == pid for f in b.get("dataFileList", [])],
                attachments=list(self.attachments.get(pid, [])),
                ratings=sorted((r for r in self.ratings if r["datasetId"] == pid), key=lambda r: r["at"]),
                comments=sorted((c for c in self.comments.values() if c["datasetId"] == pid),
                                key=lambda c: c["createdAt"]), fixity=self.fixity.get(pid), reader=user)

    def fixity_of(self, pids: list[str]) -> dict[str, Doc]:
        with self._lock:
            return {pid: self.fixity[pid] for pid in pids if pid in self.fixity}

    def proposals(self, user: TokenUser | None, limit: int = MAX_PICKER) -> list[Doc]:
        published = {str(p) for d in self._find([{"isPublished": True}]) for p in d.get("proposalIds") or []}
        branches = read_branches(user)
        with self._lock:
            found = [p for p in self.proposal_docs.values()
                     if str(p["_id"]) in published or any(matches(b, p) for b in branches)]
        out = [{"proposalId": str(p["_id"]), "title": str(p.get("title") or "")} for p in found]
        return sorted(out, key=lambda p: p["proposalId"], reverse=True)[:limit]

    def beamlines(self, branches: list[Doc], limit: int = MAX_PICKER) -> list[str]:
        return sorted({str(b) for d in self._find(branches) for b in d.get("instrumentIds") or []})[:limit]

    # --- annotations --------------------------------------------------------------

    def rate(self, pid: str, user: TokenUser, value: float | None, now: datetime) -> None:
        self.writable(pid, user)
        with self._lock:
            self.ratings.append({"_id": uuid.uuid4().hex, "datasetId": pid, "user": user.user, "value": value,
                                 "at": now})
            average = average_rating(sorted((r for r in self.ratings if r["datasetId"] == pid), key=lambda r: r["at"]))
            doc = self.datasets[pid]
            doc.update(updatedAt=now, updatedBy=user.user)
            if average is None:
                doc.pop("dataQualityMetrics", None)
            else:
                doc["dataQualityMetrics"] = average

    def add_comment(self, pid: str, user: TokenUser, text: str, now: datetime) -> Doc:
        self.commentable(pid, user)
        comment_id = uuid.uuid4().hex
        doc: Doc = {"_id": comment_id, "datasetId": pid, "author": user.user, "text": text, "createdAt": now,
                    "updatedAt": None}
        with self._lock:
            self.comments[comment_id] = doc
        return comment_out(doc)

    def edit_comment(self, comment_id: str, user: TokenUser, text: str, now: datetime) -> Doc:
        doc = self.own_comment(self.comments.get(comment_id), user)
        with self._lock:
            doc.update(text=text, updatedAt=now)
        return comment_out(doc)

    def delete_comment(self, comment_id: str, user: TokenUser) -> None:
        self.own_comment(self.comments.get(comment_id), user)
        with self._lock:
            self.comments.pop(comment_id, None)

    def check_elog_entry(self, entry_id: str, user: TokenUser) -> None:
        self.check_elog_author(self.elog_entries.get(entry_id), entry_id, user)

    def record_elog_entry(self, entry_id: str, user: TokenUser, now: datetime) -> None:
        with self._lock:
            self.elog_entries.setdefault(entry_id, {"_id": entry_id, "author": user.user, "createdAt": now})

    def attach(self, dataset: Doc, user: TokenUser, caption: str, thumbnail: str, now: datetime) -> Doc:
        aid = str(uuid.uuid4())
        doc = build_attachment(dataset, aid=aid, caption=caption, thumbnail=thumbnail, user=user.user, now=now)
        with self._lock:
            self.attachments.setdefault(dataset["_id"], []).append(doc.to_mongo())
        return {"aid": aid, "caption": caption, "thumbnail": thumbnail}


class FakeReductions:
    """The scans' reduction jobs in memory, as the table shows them (``id``, ``rule``,
    ``state``, ...), each with its ``datasetId``; and the rules, with their revision.

    No worker runs here: a rerun or a cancel is refused as not configured (scireduce's job
    store is where jobs change state).
    """

    def __init__(self, store: FakeScanStore, jobs: Iterable[Doc] = ()) -> None:
        self._store = store
        self.job_views = [dict(j) for j in jobs]
        self._rules: Doc = {"revision": 0, "rules": []}

    def of_scans(self, pids: list[str], user: TokenUser | None) -> dict[str, list[Doc]]:
        out: dict[str, list[Doc]] = {pid: [] for pid in pids}
        for job in self.job_views:
            for pid in dict.fromkeys([job["datasetId"], *(job.get("inputIds") or [])]):
                if pid in out:
                    out[pid].append({k: v for k, v in job.items() if k not in ("datasetId", "inputIds")})
        return out

    def jobs(self, user: TokenUser | None, state: str | None, limit: int) -> list[Doc]:
        readable = self._store.readable_ids(list({j["datasetId"] for j in self.job_views}), user)
        return [j for j in reversed(self.job_views)
                if j["datasetId"] in readable and (state is None or j.get("state") == state)][:limit]

    def request_rerun(self, pid: str, user: TokenUser, rule: str, params: dict[str, dict[str, Any]],
                      now: datetime) -> Doc:
        self._store.writable(pid, user)
        raise NotConfigured("the in-memory reductions run no jobs")

    def cancel(self, job_id: str, user: TokenUser, now: datetime) -> Doc:
        raise NotConfigured("the in-memory reductions run no jobs")

    def rules(self) -> Doc:
        out: Doc = jsonable({k: self._rules.get(k) for k in ("revision", "rules", "updatedBy", "updatedAt")})
        return out

    def set_rules(self, user: TokenUser, revision: int, rules: ReductionRuleSet, now: datetime) -> Doc:
        if not user.admin:
            raise Forbidden("only administrators change the reduction rules")
        if revision != self._rules["revision"]:
            raise Conflict(f"the reduction rules are no longer at revision {revision}")
        self._rules = {"revision": revision + 1, "rules": rules.model_dump()["rules"], "updatedBy": user.user,
                       "updatedAt": now}
        return self.rules()

    def rule_rights(self, user: TokenUser) -> Doc:
        return {"all": user.admin, "beamlines": []}

    # The rules' history and the dry run need the catalogue (scanlog_api._rules_history).
    def rule_history(self, limit: int) -> Doc:
        raise NotConfigured("the in-memory reductions keep no history of the rules")

    def rule_revision(self, number: int) -> Doc:
        raise NotConfigured("the in-memory reductions keep no history of the rules")

    def rule_diff(self, old: int, new: int) -> Doc:
        raise NotConfigured("the in-memory reductions keep no history of the rules")

    def restore_rules(self, user: TokenUser, number: int, revision: int, now: datetime) -> Doc:
        raise NotConfigured("the in-memory reductions keep no history of the rules")

    def dry_run(self, user: TokenUser, rules: ReductionRuleSet) -> Doc:
        raise NotConfigured("the in-memory reductions have no catalogue to try rules on")

    def pipelines(self) -> list[Doc]:
        return []  # no worker describes its pipelines here


if TYPE_CHECKING:  # the type checker holds the fakes to the interfaces the routes use
    _FAKES: tuple[Scans, ScanJobs] = (FakeScanStore(), FakeReductions(FakeScanStore()))


class FakeViewStore(ViewRules):
    """The saved views in memory, under the same rule as :class:`~scanlog_api._views.ViewStore`
    (tests/system/test_views_store.py runs one behaviour test against both). ``proposals``:
    proposal id -> its ownerGroup (what sharing reads)."""

    def __init__(self, proposals: dict[str, str] | None = None) -> None:
        self._lock = threading.Lock()
        self.proposals = dict(proposals or {})
        self.saved: dict[str, SavedView] = {}
        self.defaults: dict[str, str] = {}  # user -> the view chosen as default (one key per user)

    def _owned(self, owner: str) -> list[SavedView]:
        with self._lock:
            return [v for v in self.saved.values() if v.owner == owner]

    def _shared(self, groups: list[str] | None) -> list[SavedView]:
        with self._lock:
            return [v for v in self.saved.values()
                    if v.sharedGroup is not None and (groups is None or v.sharedGroup in groups)]

    def _get(self, view_id: str) -> SavedView | None:
        with self._lock:
            return self.saved.get(view_id)

    def _put(self, view: SavedView, *, new: bool) -> None:
        with self._lock:
            # As the store's unique index on owner and name does.
            if any(v.owner == view.owner and v.name == view.name and v.id != view.id for v in self.saved.values()):
                raise Conflict(f"you have a view named {view.name!r} already")
            if new and view.id in self.saved:
                raise Conflict(f"a view {view.id!r} exists")
            self.saved[view.id] = view

    def _remove(self, view_id: str) -> None:
        with self._lock:
            self.saved.pop(view_id, None)

    def _proposal_group(self, proposal_id: str) -> str | None:
        return self.proposals.get(proposal_id)

    def _default_id(self, user: str) -> str | None:
        with self._lock:
            return self.defaults.get(user)

    def _set_default_id(self, user: str, view_id: str | None) -> None:
        with self._lock:
            if view_id is None:
                self.defaults.pop(user, None)
            else:
                self.defaults[user] = view_id

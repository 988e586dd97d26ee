"""What the scan table decides above any store: who may change a scan or a comment, free
text, the export's bound, and how a scan's detail, a comment and a rating are shown.

Both stores build on :class:`ScanRules`: :class:`~scanlog_api._store.ScanStore` (MongoDB)
and :class:`~scanlog_api.testing.FakeScanStore` (in memory) provide only the reads and
writes, so the rules are stated once and the same tests hold for both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from scizoo.core import TokenUser

from ._access import can_comment, can_write
from ._conditions import key_units
from ._errors import Forbidden, Invalid, NotFound
from ._table import jsonable, row, text_matches

Doc = dict[str, Any]
Order = Literal["asc", "desc"]
#: Free text reads the selection; beyond this many scans, ask for a narrower one.
MAX_TEXT_SCAN = 50_000
#: A CSV export holds at most this many scans.
MAX_EXPORT_ROWS = 100_000
#: The pickers list at most this many proposals and beamlines.
MAX_PICKER = 500


def comment_out(doc: Doc) -> Doc:
    """A comment as the API shows it."""
    out: Doc = jsonable({"id": doc["_id"], "author": doc["author"], "text": doc["text"],
                         "createdAt": doc["createdAt"], "updatedAt": doc.get("updatedAt")})
    return out


def average_rating(history: Iterable[Doc]) -> float | None:
    """The average of each user's latest rating (oldest first in ``history``); None when no
    user's latest is a rating (one user clearing theirs leaves the others' standing)."""
    latest = {r["user"]: r.get("value") for r in history}
    given = [float(v) for v in latest.values() if v is not None]
    return round(sum(given) / len(given), 2) if given else None


#: The detail view lists this many of a dataset's fixity problems (the count says how many more).
FIXITY_PROBLEMS_SHOWN = 20


def fixity_view(summary: Doc | None, problems: int = FIXITY_PROBLEMS_SHOWN, *, reasons: bool = False) -> Doc | None:
    """A dataset's fixity as scifix wrote it (``ScizooFixity``), as the page shows it: the state,
    how many problems and the first ``problems`` of them, when checked and verified; None when
    no pass has finished yet. Read tolerantly: it is another service's document.

    Each problem is its path and kind; its ``reason`` only with ``reasons`` (for those who may
    change the dataset): scifix's reasons name the resolved file on the server and the data
    roots it is configured with, which a published dataset's readers (anyone) need not learn."""
    if summary is None:
        return None
    listed = [p for p in summary.get("problems") or [] if isinstance(p, dict)]
    out: Doc = jsonable({
        "state": str(summary.get("state") or "unknown"),
        "problemCount": int(summary.get("problemCount") or len(listed)),
        "problems": [{"path": str(p.get("path", "")), "kind": str(p.get("kind", "")),
                      **({"reason": str(p.get("reason", ""))} if reasons else {})} for p in listed[:problems]],
        "files": summary.get("files"), "checksummed": summary.get("checksummed"),
        "algorithm": summary.get("algorithm", ""),
        "checkedAt": summary.get("checkedAt"), "verifiedAt": summary.get("verifiedAt"),
    })
    return out


def detail_view(doc: Doc, files: Iterable[Doc], attachments: Iterable[Doc], ratings: Iterable[Doc],
                comments: Iterable[Doc], fixity: Doc | None = None, *, reader: TokenUser | None) -> Doc:
    """One scan as ``reader`` sees its detail (ratings and comments oldest first), with its files'
    fixity (``fixity``: its ``ScizooFixity`` document, None before the first pass; the problems'
    reasons only for a reader who may change the scan)."""
    out: Doc = jsonable({
        **row(doc),
        "fixity": fixity_view(fixity, reasons=reader is not None and can_write(reader, doc)),
        "sourceFolder": doc.get("sourceFolder", ""),
        "scientificMetadata": doc.get("scientificMetadata", {}),
        "files": list(files),
        "attachments": [{"aid": a["_id"], "caption": a.get("caption", ""), "thumbnail": a.get("thumbnail", "")}
                        for a in attachments],
        "ratings": [{"user": r["user"], "value": r["value"], "at": r["at"]} for r in ratings],
        "comments": [comment_out(c) for c in comments],
    })
    return out


def add_keys(keys: dict[str, str], docs: Iterable[Doc]) -> None:
    """Each document's scientificMetadata keys into ``keys`` (nested ones as ``outer.inner``,
    as conditions name them: ``_conditions.key_units``), with the first unit known."""
    for doc in docs:
        for key, unit in key_units(doc.get("scientificMetadata")):
            keys[key] = keys.get(key) or unit


class ScanRules(ABC):
    """The rules over a store's reads: subclasses say how to read, this says who may and how much."""

    def __init__(self, *, staff_comment_groups: dict[str, str] | None = None,
                 max_export_rows: int = MAX_EXPORT_ROWS) -> None:
        self._staff_comment_groups = dict(staff_comment_groups or {})
        self._max_export_rows = max_export_rows

    @abstractmethod
    def readable(self, pid: str, user: TokenUser | None) -> Doc:
        """The dataset if the user may read it; else :class:`NotFound` (whether or not it exists)."""

    @abstractmethod
    def count(self, branches: list[Doc]) -> int:
        """The datasets in the union of the branches."""

    @abstractmethod
    def merged(self, branches: list[Doc], field: str, order: Order, limit: int = 0) -> Iterator[Doc]:
        """The branches' documents as one sorted stream."""

    def writable(self, pid: str, user: TokenUser) -> Doc:
        """The dataset if the user may change it; :class:`Forbidden` if they may only read it."""
        doc = self.readable(pid, user)
        if not can_write(user, doc):
            raise Forbidden(f"only members of {doc.get('ownerGroup')!r} may change dataset {pid!r}")
        return doc

    def commentable(self, pid: str, user: TokenUser) -> Doc:
        """The dataset if the user may comment on it (writers, and staff where the facility allows)."""
        doc = self.readable(pid, user)
        if not can_comment(user, doc, self._staff_comment_groups):
            raise Forbidden(f"only members of {doc.get('ownerGroup')!r} may comment on dataset {pid!r}")
        return doc

    def own_comment(self, comment: Doc | None, user: TokenUser) -> Doc:
        """The comment, if the user may still comment on its scan and wrote it."""
        if comment is None:
            raise NotFound("no such comment")
        self.commentable(comment["datasetId"], user)
        if comment["author"] != user.user:
            raise Forbidden("you can change only your own comments")
        return comment

    @staticmethod
    def check_elog_author(entry: Doc | None, entry_id: str, user: TokenUser) -> None:
        """A user may append only to an e-logbook entry they made through scanlog."""
        if entry is None or entry.get("author") != user.user:
            raise Forbidden(f"e-logbook entry {entry_id!r} was not made by you through scanlog")

    def with_text(self, branches: list[Doc], text: str | None, docs: Iterable[Doc]) -> Iterator[Doc]:
        """The documents that contain the free text (all of them when there is none).

        Free text reads the selection, so a selection over :data:`MAX_TEXT_SCAN` is refused
        up front (before any CSV line is sent).
        """
        if not text:
            return iter(docs)
        if self.count(branches) > MAX_TEXT_SCAN:
            raise Invalid(f"free text searches at most {MAX_TEXT_SCAN:,} scans: "
                          "narrow the selection (proposal, beamline, time) first")
        return (doc for doc in docs if text_matches(doc, text))

    def text_page(self, branches: list[Doc], text: str, field: str, order: Order, skip: int,
                  limit: int) -> tuple[list[Doc], int]:
        """One page of the documents that contain the free text, and how many do.

        Every match is counted but only the page's are kept: the memory is a page and the
        store's batches, however many scans match.
        """
        page: list[Doc] = []
        count = 0
        for doc in self.with_text(branches, text, self.merged(branches, field, order)):
            if skip <= count < skip + limit:
                page.append(doc)
            count += 1
        return page, count

    def check_export(self, branches: list[Doc]) -> None:
        """Refuse an export larger than ``max_export_rows`` before a line is sent."""
        if self.count(branches) > self._max_export_rows:
            raise Invalid(f"an export holds at most {self._max_export_rows:,} scans: narrow the selection first")

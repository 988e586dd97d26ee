"""The fixity of a dataset's files, on the catalogue: checksums written into its OrigDatablocks,
what was computed kept in a ledger, and problems flagged on the dataset.

Two collections of scizoo's own, like the reduction jobs: ``ScizooFixityFile`` (one record per
file checksummed: path, size, time, algorithm, checksum) and ``ScizooFixity`` (one per dataset:
its state, ``ok``, ``flagged`` or ``mismatch``, and each problem file with why).
The ledger is written before the datablock, so a worker killed between the two writes the
checksum back without reading the file again. A datablock's ``updatedAt`` is never touched:
scicow's ordering guard compares it with a later message's time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pymongo.database import Database

from scizoo.core import DATASET_COLLECTION, ORIG_DATABLOCK_COLLECTION, PID_NAMESPACE
from scizoo.core import FIXITY_COLLECTION as _FIXITY_COLLECTION

from ._bucket import TokenBucket
from ._hashing import Digest, checksum, stat_of
from ._metrics import FIXITY_BYTES, FIXITY_FILES, FIXITY_PROBLEMS
from ._rules import (
    PROBLEMS,
    Entry,
    Known,
    MalformedEntry,
    Outcome,
    Plan,
    change,
    entry_name,
    inside,
    parse_entry,
    plan,
    resolve,
)
from ._settings import ScifixSettings

logger = logging.getLogger(__name__)
Doc = dict[str, Any]

#: The per-dataset summaries: the name lives in scizoo.core, as the scan table reads them too.
FIXITY_COLLECTION: Final = _FIXITY_COLLECTION
FIXITY_FILE_COLLECTION: Final = "ScizooFixityFile"
_PROBLEMS_KEPT: Final = 1000
_REASON_KEPT: Final = 2000


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class FileResult:
    path: str
    outcome: Outcome
    reason: str = ""
    chk: str = ""


@dataclass
class Report:
    """What one pass over a dataset found."""

    pid: str
    files: list[FileResult] = field(default_factory=list)
    algorithm: str = ""

    @property
    def problems(self) -> list[FileResult]:
        return [f for f in self.files if f.outcome in PROBLEMS]

    @property
    def state(self) -> str:
        if any(f.outcome is Outcome.MISMATCH for f in self.files):
            return "mismatch"
        return "flagged" if self.problems else "ok"


def _record_id(block_id: str, path: str) -> str:
    return str(uuid.uuid5(PID_NAMESPACE, f"fixity:{block_id}:{path}"))


class Fixity:
    """Checks datasets' files against the catalogue (one instance per worker or command)."""

    def __init__(self, db: Database[Doc], settings: ScifixSettings, *, clock: Callable[[], datetime] = system_clock,
                 stop: threading.Event | None = None) -> None:
        self.db, self.settings, self.clock, self.stop = db, settings, clock, stop
        self.bucket = TokenBucket(settings.read_rate, settings.chunk_bytes)
        # Resolved once: a root that is itself a link is compared as what it points to.
        self.roots = [os.path.realpath(r) for r in settings.data_roots]
        self.files = db[FIXITY_FILE_COLLECTION]
        self.summaries = db[FIXITY_COLLECTION]

    def ensure_indexes(self) -> None:
        self.files.create_index([("datasetId", 1)])
        self.summaries.create_index([("state", 1)])
        self.summaries.create_index([("verifiedAt", 1)])

    def check(self, pid: str, *, recheck: bool = False, keepalive: Callable[[], None] = lambda: None) -> Report | None:
        """Give every file of a dataset its checksum; flag what is changed, gone or out of bounds.

        ``recheck`` (verification) reads every file again and compares. Returns None when the
        dataset is not in the catalogue. Raises :class:`~scifix._hashing.Interrupted` when asked
        to stop mid-file: what was finished is kept, the rest is done by the next pass.
        """
        dataset = self.db[DATASET_COLLECTION].find_one({"_id": pid}, {"sourceFolder": 1})
        if dataset is None:
            logger.warning("dataset %s is not in the catalogue: nothing to check", pid)
            return None
        known = {d["_id"]: Known(d["size"], d["time"], d["alg"], d["chk"], d.get("mismatch", ""))
                 for d in self.files.find({"datasetId": pid})}
        report = Report(pid, algorithm=self.settings.algorithm)
        for block in self.db[ORIG_DATABLOCK_COLLECTION].find({"datasetId": pid}):
            entries = block.get("dataFileList") or []
            if not isinstance(entries, list):
                self._found(report, FileResult(f"{block['_id']}.dataFileList", Outcome.MALFORMED,
                                               f"the datablock's dataFileList is not a list: {entries!r:.80}"))
                continue
            alg = str(block.get("chkAlg") or self.settings.algorithm).lower()
            if alg not in hashlib.algorithms_available:
                for index, raw in enumerate(entries):
                    self._found(report, FileResult(entry_name(raw, index), Outcome.UNREADABLE,
                                                   f"the datablock's chkAlg {alg!r} is not a checksum computed here"))
                continue
            report.algorithm = alg
            for index, raw in enumerate(entries):
                try:
                    entry = parse_entry(raw)
                except MalformedEntry as err:
                    self._found(report, FileResult(entry_name(raw, index), Outcome.MALFORMED, str(err)))
                    continue
                self._found(report, self._file(pid, block["_id"], raw, entry, str(dataset.get("sourceFolder") or "/"),
                                               alg, known.get(_record_id(block["_id"], entry.path)), recheck, keepalive))
        self._summarise(report, verified=recheck)
        return report

    def _found(self, report: Report, result: FileResult) -> None:
        report.files.append(result)
        FIXITY_FILES.labels(result.outcome.value).inc()
        if result.outcome in PROBLEMS:
            FIXITY_PROBLEMS.labels(result.outcome.value).inc()
            log = logger.error if result.outcome is Outcome.MISMATCH else logger.warning
            log("fixity %s: %s %s (%s)", result.outcome.value, report.pid, result.path, result.reason)

    def _file(self, pid: str, block_id: str, entry: Doc, parsed: Entry, source_folder: str, alg: str,
              known: Known | None, recheck: bool, keepalive: Callable[[], None]) -> FileResult:
        """One file; ``entry`` is the datablock's own item (matched as stored when its ``chk`` is written)."""
        path, size, time, chk = parsed.path, parsed.size, parsed.time, parsed.chk
        target = resolve(path, source_folder)
        real = os.path.realpath(target)
        if not inside(real, self.roots):
            why = "no data roots are configured (SCIFIX_DATA_ROOTS)" if not self.roots else (
                f"{real} is outside the data roots ({', '.join(self.roots)})")
            return FileResult(path, Outcome.OUTSIDE, why)
        try:
            seen = stat_of(os.stat(real))
        except FileNotFoundError:
            return FileResult(path, Outcome.GONE, f"{real} does not exist")
        except OSError as err:
            return FileResult(path, Outcome.UNREADABLE, f"{real}: {err.strerror}")
        if not seen.regular:
            return FileResult(path, Outcome.UNREADABLE, f"{real} is not a regular file")
        changed = change(size, time, seen.size, seen.mtime, self.settings.time_tolerance_s)
        if changed:
            return FileResult(path, Outcome.CHANGED, f"changed since capture: {changed}")
        decided = plan(chk, known, size, time, alg, recheck=recheck)
        if decided is Plan.MISMATCH:
            assert known is not None
            return FileResult(path, Outcome.MISMATCH, known.mismatch)
        if decided is Plan.DONE:
            assert known is not None
            return FileResult(path, Outcome.DONE, chk=known.chk)
        if decided is Plan.RESTORE:
            assert known is not None
            self._write_block(block_id, entry, alg, known.chk)
            return FileResult(path, Outcome.RESTORED, chk=known.chk)
        try:
            digest = checksum(real, alg, self.bucket, chunk=self.settings.chunk_bytes, keepalive=keepalive, stop=self.stop)
        except FileNotFoundError:
            return FileResult(path, Outcome.GONE, f"{real} disappeared")
        except OSError as err:
            return FileResult(path, Outcome.UNREADABLE, f"{real}: {err.strerror or err}")
        FIXITY_BYTES.inc(digest.after.size)
        during = _changed_while_read(digest)
        if during:
            return FileResult(path, Outcome.CHANGED, f"changed while it was read: {during}")
        expected = chk or (known.chk if known and known.same_file(size, time, alg) else "")
        now = self.clock()
        record = {"datasetId": pid, "blockId": block_id, "path": path, "size": size, "time": time, "alg": alg,
                  "checkedAt": now}
        if expected and digest.hexdigest != expected:
            why = f"{alg} is {digest.hexdigest}, the catalogue has {expected} (found {now.isoformat()})"
            # Kept with the recorded checksum (the evidence), until a verification finds it right.
            self.files.update_one({"_id": _record_id(block_id, path)},
                                  {"$set": record | {"chk": expected, "mismatch": why},
                                   "$setOnInsert": {"computedAt": now}}, upsert=True)
            return FileResult(path, Outcome.MISMATCH, why, digest.hexdigest)
        # The ledger first: a worker killed before the datablock write restores it unread.
        self.files.update_one({"_id": _record_id(block_id, path)},
                              {"$set": record | {"chk": digest.hexdigest}, "$unset": {"mismatch": ""},
                               "$setOnInsert": {"computedAt": now}}, upsert=True)
        if chk != digest.hexdigest:
            self._write_block(block_id, entry, alg, digest.hexdigest)
        logger.info("checksum %s %s of %s (%d bytes)", "verified" if expected else "computed", alg, real, size)
        return FileResult(path, Outcome.VERIFIED if expected else Outcome.COMPUTED, chk=digest.hexdigest)

    def _write_block(self, block_id: str, entry: Doc, alg: str, chk: str) -> None:
        """Set one entry's ``chk`` (and the block's ``chkAlg``), only while the entry still names
        the same file, size and time: a re-ingest that changed it meanwhile wins."""
        same = {"path": entry["path"], "size": entry["size"], "time": entry["time"]}
        self.db[ORIG_DATABLOCK_COLLECTION].update_one({"_id": block_id, "dataFileList": {"$elemMatch": same}},
                                                      {"$set": {"dataFileList.$.chk": chk, "chkAlg": alg}})

    def _summarise(self, report: Report, *, verified: bool) -> None:
        now = self.clock()
        summary: Doc = {
            "datasetId": report.pid, "state": report.state, "algorithm": report.algorithm, "files": len(report.files),
            "checksummed": sum(1 for f in report.files if f.chk and f.outcome not in PROBLEMS),
            # The first thousand, so a dataset of 100,000 missing files still fits a document.
            "problems": [{"path": f.path, "kind": f.outcome.value, "reason": f.reason}
                         for f in report.problems[:_PROBLEMS_KEPT]],
            "problemCount": len(report.problems),
            "checkedAt": now,
        }
        if verified:
            summary["verifiedAt"] = now
        self.summaries.update_one({"_id": report.pid}, {"$set": summary}, upsert=True)

    def failed(self, pid: str, err: BaseException) -> None:
        """A check that ended in an unexpected error, on the dataset's summary: flagged, with why,
        so it is seen on the page and by whoever looks at the flagged datasets."""
        FIXITY_PROBLEMS.labels("failed").inc()
        self.summaries.update_one({"_id": pid}, {"$set": {
            "datasetId": pid, "state": "flagged", "checkedAt": self.clock(), "problemCount": 1,
            "problems": [{"path": "", "kind": "failed",
                          "reason": f"the check failed: {type(err).__name__}: {err}"[:_REASON_KEPT]}]}}, upsert=True)

    def due(self, limit: int = 100) -> list[str]:
        """Published datasets not verified within the re-verification interval (oldest first is
        not promised: each is verified within one interval and a pass)."""
        if self.settings.reverify_interval_s <= 0:
            return []
        cutoff = self.clock() - timedelta(seconds=self.settings.reverify_interval_s)
        published = [d["_id"] for d in self.db[DATASET_COLLECTION].find({"isPublished": True}, {"_id": 1})]
        fresh = {d["_id"] for d in self.summaries.find({"_id": {"$in": published}, "verifiedAt": {"$gte": cutoff}},
                                                       {"_id": 1})}
        return [pid for pid in published if pid not in fresh][:limit]


def _changed_while_read(digest: Digest) -> str | None:
    # Both from the same descriptor: any difference is a write during the read (no tolerance).
    return change(digest.before.size, digest.before.mtime, digest.after.size, digest.after.mtime, 0.0)

"""A re-capture never blanks a checksum (issue 21 on issue 18's promise), on real parts.

The fixity worker writes each file's ``chk`` (and the datablock's ``chkAlg``); a later message of
the same scan (a re-capture, a replay) rewrites the file list, which is capture's. What the
catalogue learned about a file that is still the same file (path, size and time) is kept by that
write itself, not written back a moment later: in between, a download's manifest would have had
no checksums. A file that changed is another file: its checksum goes. A checksum the capture
itself brings wins over the stored one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from pymongo import MongoClient, monitoring

from scicow import CatalogueWriter, Lookup, Write, plan
from scicow._rules import GUARDED_PATHS_MAX, datablock_guard, datablock_update, kept_checksums
from scifix import Fixity, ScifixSettings
from scizoo.core import ORIG_DATABLOCK_COLLECTION, CatalogueSettings, Proposal, ScanMetadata, dataset_pid
from tests.helpers import PID_PREFIX, wait_for
from tests.system.test_fixity import T0, _b2, _block, _file, _scan
from tests.system.test_pipeline import _produce

pytestmark = pytest.mark.system


def _chks(db, pid: str) -> dict[str, str]:
    return {e["path"]: e["chk"] for e in _block(db, pid)["dataFileList"]}


def _ingested(db, pid: str, produced_at) -> bool:
    block = _block(db, pid)
    return block is not None and block["updatedAt"] == produced_at


def test_a_reingest_keeps_the_checksums_of_unchanged_files_and_drops_a_changed_files(
    kafka, scicow, db, prefix, tmp_path: Path
) -> None:
    scicow()
    data = tmp_path / "data" / "20240001" / "raw"
    a, b, c = (_file(data, f"keep_{n}.h5", 4000 + n, n) for n in range(3))
    pid = dataset_pid("fix-40", PID_PREFIX)
    _produce(kafka.bootstrap_servers, prefix, [_scan(40, [a, b, c])])
    wait_for(lambda: _ingested(db, pid, T0), what="the datablock")
    fixity = Fixity(db, ScifixSettings(mongo_uri="mongodb://unused", data_roots=[tmp_path / "data"], read_rate=0))
    fixity.check(pid)  # the worker's pass, without its loop
    assert _chks(db, pid) == {str(a): _b2(a), str(b): _b2(b), str(c): _b2(c)}

    # A re-capture, newer: a and c as they were, b grown since, d new.
    with b.open("ab") as f:
        f.write(b"more")
    d = _file(data, "keep_new.h5", 100)
    later = T0 + timedelta(minutes=5)
    _produce(kafka.bootstrap_servers, prefix, [_scan(40, [a, b, c, d], produced_at=later)])
    wait_for(lambda: _ingested(db, pid, later), what="the re-capture's file list")
    block = _block(db, pid)
    assert _chks(db, pid) == {str(a): _b2(a), str(b): "", str(c): _b2(c), str(d): ""}  # before the fix: all ""
    assert block["chkAlg"] == "blake2b"  # before the fix: ""
    assert [e["size"] for e in block["dataFileList"]] == [4000, 4005, 4002, 100]  # capture's list, as sent

    # A newer one whose capture brings its own checksum for a (another algorithm): the capture's
    # wins, and the stored blake2b of c is not passed off as the capture's algorithm.
    sha1_a = hashlib.sha1(a.read_bytes()).hexdigest()  # what the capture sent
    latest = T0 + timedelta(minutes=10)
    message = _scan(40, [a, c], produced_at=latest)
    files = [f.model_copy(update={"chk": sha1_a}) if f.path == str(a) else f for f in message.scan.files]
    message = message.model_copy(update={"scan": message.scan.model_copy(update={"files": files})})
    _produce(kafka.bootstrap_servers, prefix, [message])
    wait_for(lambda: _ingested(db, pid, latest), what="the capture's own checksum")
    assert _chks(db, pid) == {str(a): sha1_a, str(c): ""}
    assert _block(db, pid)["chkAlg"] == "sha1"


def test_a_checksum_written_between_the_read_and_the_write_is_not_overwritten(db, tmp_path: Path) -> None:
    """scicow reads the stored datablock, then writes the merged list: the write is guarded, so a
    checksum the fixity worker wrote in between makes it match nothing (scicow reads again)."""
    data = tmp_path / "data" / "20240001" / "raw"
    a, b = (_file(data, f"race_{n}.h5", 3000 + n, n) for n in range(2))
    assert CatalogueWriter(db).write(_writes(_scan(41, [a, b]))) == []
    pid = dataset_pid("fix-41", PID_PREFIX)
    blocks = db[ORIG_DATABLOCK_COLLECTION]
    read = _block(db, pid)  # what scicow read ...
    # ... then the worker writes a's checksum, as scifix does (one entry, matched on path, size, time) ...
    same = {k: read["dataFileList"][0][k] for k in ("path", "size", "time")}
    blocks.update_one({"_id": read["_id"], "dataFileList": {"$elemMatch": same}},
                      {"$set": {"dataFileList.$.chk": _b2(a), "chkAlg": "blake2b"}})
    # ... then scicow's write of a newer message of the same files, merged with what it read.
    later = T0 + timedelta(minutes=5)
    [write] = _writes(_scan(41, [a, b], produced_at=later))
    assert write.datablock is not None
    doc = write.datablock.to_mongo()
    assert blocks.update_one(datablock_guard(doc, read), datablock_update(doc, read)).matched_count == 0
    assert _chks(db, pid)[str(a)] == _b2(a)  # the worker's checksum stands
    fresh = _block(db, pid)
    assert blocks.update_one(datablock_guard(doc, fresh), datablock_update(doc, fresh)).matched_count == 1
    assert _chks(db, pid) == {str(a): _b2(a), str(b): ""} and _block(db, pid)["chkAlg"] == "blake2b"
    assert _block(db, pid)["updatedAt"] == later
    # The writer itself, against what is stored now: the same files again keep their checksums.
    assert CatalogueWriter(db).write(_writes(_scan(41, [a, b], produced_at=later + timedelta(minutes=1)))) == []
    assert _chks(db, pid) == {str(a): _b2(a), str(b): ""}


class _WorkerBetween(monitoring.CommandListener):
    """Runs ``act`` once, right after the first read of a collection: a write that lands
    between scicow's read and its write, every time (pymongo's public command monitoring)."""

    def __init__(self, collection: str, act: Callable[[], None]) -> None:
        self.collection, self.act, self.reads, self.fired = collection, act, set(), False

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command.get("find") == self.collection:
            self.reads.add(event.request_id)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if event.request_id in self.reads and not self.fired:
            self.fired = True
            self.act()

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def test_the_writer_reads_again_when_a_checksum_lands_between_its_read_and_its_write(mongo, db, tmp_path: Path) -> None:
    data = tmp_path / "data" / "20240001" / "raw"
    a, b = (_file(data, f"between_{n}.h5", 2000 + n, n) for n in range(2))
    assert CatalogueWriter(db).write(_writes(_scan(42, [a, b]))) == []
    pid = dataset_pid("fix-42", PID_PREFIX)
    block = _block(db, pid)
    same = {k: block["dataFileList"][1][k] for k in ("path", "size", "time")}

    def worker_writes_b() -> None:  # as scifix's _write_block does
        db[ORIG_DATABLOCK_COLLECTION].update_one({"_id": block["_id"], "dataFileList": {"$elemMatch": same}},
                                                 {"$set": {"dataFileList.$.chk": _b2(b), "chkAlg": "blake2b"}})

    listener = _WorkerBetween(ORIG_DATABLOCK_COLLECTION, worker_writes_b)
    with MongoClient(mongo.uri, tz_aware=True, event_listeners=[listener]) as client:
        later = T0 + timedelta(minutes=5)
        assert CatalogueWriter(client[db.name]).write(_writes(_scan(42, [a, b], produced_at=later))) == []
    assert listener.fired
    # Without the guard and the second read, b's checksum was blanked by the write that followed.
    assert _chks(db, pid) == {str(a): "", str(b): _b2(b)} and _block(db, pid)["chkAlg"] == "blake2b"
    assert _block(db, pid)["updatedAt"] == later


def _writes(*messages: ScanMetadata) -> list[Write]:
    return plan(messages, lambda p: Lookup(Proposal(proposalId=p, ownerGroup=p)),
                CatalogueSettings(pid_prefix=PID_PREFIX)).writes


def test_the_merge_on_plain_data() -> None:
    """What counts as the same file, and when a stored checksum may not be kept."""
    t = T0 + timedelta(microseconds=123_456)
    stored = {"chkAlg": "blake2b", "dataFileList": [
        # as read back: milliseconds only, and naive from a client without tz_aware
        {"path": "/d/a", "size": 1, "time": (t - timedelta(microseconds=456)).replace(tzinfo=None), "chk": "A"},
        {"path": "/d/b", "size": 2, "time": T0, "chk": "B"},
        {"path": "/d/c", "size": 3, "time": T0},  # SciCat's own: no chk at all
    ]}
    doc = {"_id": "blk", "updatedAt": T0, "chkAlg": "", "dataFileList": [
        {"path": "/d/a", "size": 1, "time": t, "chk": ""},
        {"path": "/d/b", "size": 2, "time": T0 + timedelta(seconds=1), "chk": ""},  # touched since: another file
        {"path": "/d/c", "size": 3, "time": T0, "chk": ""},
    ]}
    merged = kept_checksums(doc, stored)
    assert [e["chk"] for e in merged["dataFileList"]] == ["A", "", ""] and merged["chkAlg"] == "blake2b"
    assert doc["dataFileList"][0]["chk"] == ""  # the message's document is not changed in place
    # Nothing kept: no algorithm claimed.
    assert kept_checksums(doc, stored | {"dataFileList": stored["dataFileList"][1:]})["chkAlg"] == ""
    # The capture's own algorithm, another one: the stored checksums are not passed off as it.
    own = doc | {"chkAlg": "sha1", "dataFileList": [doc["dataFileList"][0], doc["dataFileList"][2] | {"chk": "C1"}]}
    assert [e["chk"] for e in kept_checksums(own, stored)["dataFileList"]] == ["", "C1"]
    # The same algorithm: kept beside the capture's.
    same = kept_checksums(own | {"chkAlg": "blake2b"}, stored)
    assert [e["chk"] for e in same["dataFileList"]] == ["A", "C1"] and same["chkAlg"] == "blake2b"
    # The guard: entries kept without a checksum (c) must still have none; a changed file (b) is not guarded.
    guard = datablock_guard(doc, stored)
    assert guard["dataFileList"]["$not"]["$elemMatch"]["path"] == {"$in": ["/d/c"]}
    assert guard["chkAlg"] == "blake2b" and guard["updatedAt"] == {"$lte": T0}
    # A list whose guard would not fit one statement: the ordering guard alone.
    huge = {"path": "/d/" + "x" * (GUARDED_PATHS_MAX + 1), "size": 3, "time": T0, "chk": ""}
    assert "dataFileList" not in datablock_guard(doc | {"dataFileList": [huge]}, {"dataFileList": [huge]})

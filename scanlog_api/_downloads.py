"""Downloads: a dataset's files, a cart's and a publication's, as one streamed zip; single files.

Who may: whoever may read the dataset (``_access``, through the store's ``readable``), so
anyone for a published one. What may be served: only files a dataset's OrigDatablocks list,
and of those only the ones inside the facility's data roots (``ScanlogSettings.data_roots``).
A datablock's path is data, not trust: it is normalised (``..`` resolved) and must lie inside
a root as written, then resolved (links followed) and must still lie inside one; the file is
opened without following a last link and checked again through the open descriptor, so a
link swapped in after the check is not followed out either. Every refusal names its reason,
and is counted by reason (:data:`REFUSALS`).

The archive is zipstream-ng's (no compression: detector files are compressed already, and a
stored zip's size is known before its first byte, so the answer has a Content-Length and a
browser shows progress). Its memory is one read buffer whatever its size. It cannot be
resumed: zipstream-ng has no Range for an archive (and dates its entries when it writes them,
so two archives of the same files differ), so an interrupted archive starts again; each file
on its own is served with HTTP Range (Starlette's FileResponse), which a large transfer should
use instead. The files' catalogued times are in the manifest.

``manifest.json`` lists every file of the datasets: where it is in the archive, its size and
its checksum from the catalogue (``chk`` and the datablock's ``chkAlg``, filled by the fixity
worker; "not yet computed" until then), or why it is not in the archive. ``checksums.<alg>``
hold the same checksums in the format ``sha256sum -c`` / ``b2sum -c`` read.

Tickets (:class:`~scanlog_api._tickets.Tickets`): a signed-in page cannot send its bearer token with a plain link,
and must not put it in the link (a URL lands in access logs, proxies and the browser's
history). So it asks for a ticket (with its token, in the header) and navigates to the
ticket's URL, and the browser's own download manager streams the file to disk and can resume
it. A ticket is a capability, not a credential: it names one download only (the datasets or
the one file resolved and checked when it was made), must be used within
:data:`~scanlog_api._tickets.TICKET_START_S`, and then serves Range re-requests of its single file until
:data:`~scanlog_api._tickets.TICKET_RESUME_S` (an archive cannot be resumed, so its ticket ends when its start
window does); access is checked again at every use, with the identity it was made for, so a
revoked access stops it. The store keeps only the ticket's hash; logs only its first
characters (:func:`mask_tickets_in_access_log` for uvicorn's request lines).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from prometheus_client import Counter
from zipstream import ZipStream

from scizoo.web import TokenUser

from ._errors import Forbidden, NotConfigured, NotFound
from ._ports import ScanReads

if TYPE_CHECKING:

    from ._tickets import Tickets

logger = logging.getLogger(__name__)

Doc = dict[str, Any]

BYTES_SERVED = Counter("scizoo_download_bytes", "Bytes of data files sent, by kind (archive, file).", ["kind"])
ARCHIVES = Counter("scizoo_download_archives", "Archives streamed, by how they ended.", ["outcome"])
REFUSALS = Counter("scizoo_download_refusals", "Files or archives not served, by reason.", ["reason"])

#: Reasons a file is not served (the metric's label, and the sentence's start).
NO_ROOTS = "no data roots configured"
OUTSIDE = "outside the data roots"
LINK_OUT = "a link out of the data roots"
MISSING = "not on the data storage"
NOT_A_FILE = "not a regular file"
CHANGED = "changed while being served"
LISTED_TWICE = "listed twice"
OVER_LIMIT = "over the archive size limit"
NOT_COMPUTED = "not yet computed"
#: One read of a file (and the most an archive holds in memory at once).
CHUNK = 1024 * 1024


class FileRefused(Exception):
    """A file that is not served, and why (``reason``: one of the module's reasons)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def _inside(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


@dataclass(frozen=True)
class DataRoots:
    """The folders whose files may be served: as configured, and with their own links resolved
    (a root may itself be a link, e.g. /data -> /gpfs/data)."""

    given: tuple[str, ...]
    real: tuple[str, ...]

    @classmethod
    def of(cls, roots: Iterable[str | Path]) -> DataRoots:
        given = tuple(os.path.normpath(str(r)) for r in roots if str(r))
        for root in given:
            if not os.path.isabs(root):
                raise ValueError(f"a data root is an absolute path; {root!r} is not")
        return cls(given, tuple(os.path.realpath(r) for r in given))

    def resolve(self, path: str, folder: str = "") -> str:
        """The real path of a catalogued file (``path``, absolute or relative to ``folder``), or
        :class:`FileRefused` saying why it is not served."""
        if not self.given:
            raise FileRefused(path, NO_ROOTS)
        written = os.path.normpath(os.path.join(folder or "/", path))  # ".." resolved as written
        if not _inside(written, self.given + self.real):
            raise FileRefused(path, OUTSIDE)
        real = os.path.realpath(written)
        if not _inside(real, self.real):
            raise FileRefused(path, LINK_OUT)
        try:
            mode = os.stat(real).st_mode
        except OSError as err:
            raise FileRefused(path, MISSING) from err
        if not stat.S_ISREG(mode):
            raise FileRefused(path, NOT_A_FILE)
        return real

    def open(self, real: str, path: str) -> int:
        """A descriptor of a resolved file, checked again once open: the last part is not
        followed if it became a link, and what the descriptor is must still be inside a root."""
        try:
            fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as err:
            raise FileRefused(path, LINK_OUT if os.path.islink(real) else MISSING) from err
        where = f"/proc/self/fd/{fd}"
        if os.path.exists(where) and not _inside(os.path.realpath(where), self.real):
            os.close(fd)
            raise FileRefused(path, LINK_OUT)
        return fd


@dataclass(frozen=True)
class Entry:
    """One catalogued file of a download: where it is in the archive, and its catalogue facts."""

    pid: str
    path: str  # as catalogued
    arcname: str
    size: int  # bytes on the data storage now (the catalogued size when refused)
    catalogued_size: int
    checksum: str
    algorithm: str
    real: str = ""  # empty: refused
    refused: str = ""
    time: str = ""  # as catalogued

    def manifest(self) -> Doc:
        out: Doc = {"dataset": self.pid, "path": self.path, "size": self.size}
        if self.refused:
            out["notIncluded"] = self.refused
        else:
            out["archivePath"] = self.arcname
        if self.catalogued_size != self.size:
            out["cataloguedSize"] = self.catalogued_size
        if self.time:
            out["time"] = self.time
        out["checksum"] = {"algorithm": self.algorithm, "value": self.checksum} if self.checksum else NOT_COMPUTED
        return out


@dataclass
class Plan:
    """What an archive of some datasets holds, decided before its first byte."""

    entries: list[Entry] = field(default_factory=list)
    folders: dict[str, str] = field(default_factory=dict)  # pid -> sourceFolder

    @property
    def included(self) -> list[Entry]:
        return [e for e in self.entries if not e.refused]

    @property
    def size(self) -> int:
        return sum(e.size for e in self.included)

    @property
    def refused(self) -> list[Entry]:
        return [e for e in self.entries if e.refused]

    def summary(self) -> Doc:
        return {"datasets": len(self.folders), "files": len(self.included), "size": self.size,
                "notIncluded": [{"dataset": e.pid, "path": e.path, "reason": e.refused} for e in self.refused]}


def _folder_name(pid: str) -> str:
    return pid.replace("/", "_")


def _arcname(pid: str, path: str, folder: str, roots: DataRoots) -> str:
    """The file's place in the archive: ``<pid>/<path within its dataset's folder>`` (or within
    its data root, for a file outside that folder)."""
    written = os.path.normpath(os.path.join(folder or "/", path))
    for base in (folder, *roots.given):
        if base and _inside(written, (os.path.normpath(base),)) and written != os.path.normpath(base):
            return f"{_folder_name(pid)}/{PurePosixPath(written).relative_to(os.path.normpath(base))}"
    return f"{_folder_name(pid)}/{PurePosixPath(written).name}"


def plan_archive(datasets: list[Doc], blocks: Iterable[Doc], roots: DataRoots, only: str | None = None) -> Plan:
    """Every catalogued file of ``datasets`` (in their order, then the datablocks'), resolved
    against the data roots; a file that is not served is kept with its reason. ``only``: just
    the file catalogued with that path."""
    plan = Plan(folders={d["_id"]: str(d.get("sourceFolder") or "") for d in datasets})
    by_pid: dict[str, list[Doc]] = {}
    for block in blocks:
        by_pid.setdefault(block["datasetId"], []).append(block)
    seen: set[str] = set()
    for pid, folder in plan.folders.items():
        for block in by_pid.get(pid, []):
            algorithm = str(block.get("chkAlg") or "")
            for f in block.get("dataFileList") or []:
                path, size, chk = str(f.get("path") or ""), int(f.get("size") or 0), str(f.get("chk") or "")
                if only is not None and path != only:
                    continue
                arcname = _arcname(pid, path, folder, roots)
                when = f.get("time")
                entry = Entry(pid, path, arcname, size, size, chk, algorithm if chk else "",
                              time=when.isoformat() if hasattr(when, "isoformat") else str(when or ""))
                try:
                    real = roots.resolve(path, folder)
                except FileRefused as err:
                    entry = _refused(entry, err.reason)
                else:
                    if arcname in seen:  # one name in a zip is one file
                        entry = _refused(entry, LISTED_TWICE)
                    else:
                        entry = dataclasses.replace(entry, size=os.stat(real).st_size, real=real)
                        seen.add(arcname)
                plan.entries.append(entry)
    return plan


def _refused(entry: Entry, reason: str) -> Entry:
    REFUSALS.labels(reason).inc()
    logger.warning("download: %s of dataset %s is not served: %s", entry.path, entry.pid, reason)
    return dataclasses.replace(entry, refused=reason)


def manifest(plan: Plan, name: str) -> bytes:
    return json.dumps({"archive": name, **plan.summary(), "manifest": [e.manifest() for e in plan.entries]},
                      indent=2, ensure_ascii=False).encode()


def checksum_files(plan: Plan) -> dict[str, bytes]:
    """``checksums.<alg>``: the files of the archive with a checksum, per algorithm, in the
    ``<hex>  <path>`` lines that sha256sum/sha1sum/b2sum check with ``-c``."""
    out: dict[str, list[str]] = {}
    for e in plan.included:
        if e.checksum:
            out.setdefault(e.algorithm or "unknown", []).append(f"{e.checksum}  {e.arcname}\n")
    return {f"checksums.{alg.replace('/', '_')}": "".join(lines).encode() for alg, lines in out.items()}


def _chunks(fd: int, size: int, path: str) -> Iterator[bytes]:
    """A file's bytes, one chunk at a time; its size must still be the one the archive announced."""
    with os.fdopen(fd, "rb", buffering=0) as f:
        if os.fstat(f.fileno()).st_size != size:
            raise FileRefused(path, CHANGED)
        left = size
        while left:
            chunk = f.read(min(CHUNK, left))
            if not chunk:
                raise FileRefused(path, CHANGED)
            left -= len(chunk)
            yield chunk


def _file_data(roots: DataRoots, entry: Entry) -> Iterator[bytes]:
    # Opened only when the archive reaches it: a thousand files are not a thousand open descriptors.
    yield from _chunks(roots.open(entry.real, entry.path), entry.size, entry.path)


def archive(plan: Plan, roots: DataRoots, name: str) -> tuple[Iterator[bytes], int]:
    """The zip of a plan, as chunks, and its exact length in bytes."""
    zs = ZipStream(sized=True)
    zs.add(manifest(plan, name), "manifest.json")
    for file_name, data in checksum_files(plan).items():
        zs.add(data, file_name)
    for entry in plan.included:
        zs.add(_file_data(roots, entry), entry.arcname, size=entry.size)
    return _counted(zs), len(zs)


def _counted(zs: ZipStream) -> Iterator[bytes]:
    outcome = "failed"
    try:
        for chunk in zs:
            BYTES_SERVED.labels("archive").inc(len(chunk))
            yield chunk
        outcome = "complete"
    except GeneratorExit:
        outcome = "client left"
        raise
    except FileRefused as err:
        # The archive's length is promised already: it cannot say so in the body, it can only stop.
        REFUSALS.labels(err.reason).inc()
        logger.error("download: archive broken off: %s", err)
        raise
    finally:
        ARCHIVES.labels(outcome).inc()


def transfer_url(pattern: str, pid: str, folder: str) -> str | None:
    """The facility's transfer link for a dataset's folder (``{path}``: the folder, ``{pid}``:
    the pid, URL-encoded), e.g. a Globus collection path; None without a pattern."""
    if not pattern:
        return None
    return pattern.replace("{path}", quote(folder.lstrip("/"))).replace("{pid}", quote(pid, safe=""))


def too_large(plan: Plan, limit: int, pattern: str) -> Doc | None:
    """The answer instead of an archive over ``limit`` bytes (None: under it)."""
    if plan.size <= limit:
        return None
    REFUSALS.labels(OVER_LIMIT).inc()
    links = [{"dataset": pid, "folder": folder, "url": transfer_url(pattern, pid, folder)}
             for pid, folder in plan.folders.items()]
    how = ("use the facility's transfer link of each dataset" if pattern
           else "ask the facility for a transfer (this service has no transfer link configured)")
    return {"detail": f"these files are {plan.size:,} bytes, over the {limit:,} bytes an archive here may hold: "
                      f"{how}, or download the files one by one", "size": plan.size, "limit": limit,
            "files": len(plan.included), "transfer": links}


class Downloads:
    """The files of datasets a user may read, over the scan store (access) and the catalogue's
    datablocks (``blocks``: the OrigDatablocks of some pids)."""

    def __init__(self, scans: ScanReads, blocks: Callable[[list[str]], Iterable[Doc]], *, roots: DataRoots,
                 max_archive_bytes: int, transfer_pattern: str, tickets: Tickets | None = None) -> None:
        self.scans, self._blocks = scans, blocks
        self.roots, self.max_archive_bytes, self.transfer_pattern = roots, max_archive_bytes, transfer_pattern
        #: Download tickets for signed-in pages (None: none are made; the routes say so).
        self.tickets = tickets

    def plan(self, pids: list[str], user: TokenUser | None, only: str | None = None) -> Plan:
        """Every file of these datasets (each one the user may read, else NotFound)."""
        if not self.roots.given:
            REFUSALS.labels(NO_ROOTS).inc()
            raise NotConfigured("this service serves no files: no data roots are configured (SCANLOG_DATA_ROOTS)")
        unique = list(dict.fromkeys(pids))
        datasets = [self.scans.readable(pid, user) for pid in unique]
        return plan_archive(datasets, self._blocks(unique), self.roots, only)

    def file(self, pid: str, path: str, user: TokenUser | None) -> Entry:
        """One catalogued file of a dataset the user may read, resolved; else NotFound or
        Forbidden saying why."""
        entry = next(iter(self.plan([pid], user, only=path).entries), None)
        if entry is None:
            raise NotFound(f"dataset {pid!r} lists no file {path!r}")
        if entry.refused == MISSING:
            raise NotFound(f"{path} is {MISSING} (gone since it was catalogued?)")
        if entry.refused:
            raise Forbidden(f"{path} is not served: {entry.refused}")
        return entry

    def opened(self, entry: Entry) -> int:
        """A descriptor of the file, checked once open (see :meth:`DataRoots.open`): what is
        served is what was checked, even if a link is swapped in after the check."""
        try:
            return self.roots.open(entry.real, entry.path)
        except FileRefused as err:
            REFUSALS.labels(err.reason).inc()
            if err.reason == MISSING:
                raise NotFound(f"{entry.path} is {MISSING} (gone since it was catalogued?)") from err
            raise Forbidden(f"{entry.path} is not served: {err.reason}") from err

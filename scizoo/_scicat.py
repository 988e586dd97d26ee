"""Pure builders of SciCat (scicat-backend-next v4) documents from a scan message.

Nothing here talks to a database: the caller passes the proposal, the time and the
settings, and gets back plain dicts that pymongo stores as SciCat itself would.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from ._messages import RecordedEntry, ScanMetadata
from ._units import to_si

#: Namespace of every pid scizoo derives; fixed forever, or replays would make new datasets.
PID_NAMESPACE = uuid.UUID("6a0b7a3e-2f7c-5d2e-9a43-3c1f0d2b5e11")

DATASET_COLLECTION = "Dataset"
ORIG_DATABLOCK_COLLECTION = "OrigDatablock"
PROPOSAL_COLLECTION = "Proposal"

_UNSAFE_KEY = re.compile(r"[.$\x00]")


class Proposal(BaseModel):
    """A SciCat Proposal document, read tolerantly: real stores hold messy data."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    proposalId: str
    title: str = ""
    email: str = ""
    pi_email: str = ""
    pi_firstname: str = ""
    pi_lastname: str = ""
    ownerGroup: str = ""
    accessGroups: list[str] = []

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Proposal:
        data = dict(doc)
        data.setdefault("proposalId", data.get("_id"))
        data.pop("_id", None)
        return cls.model_validate(data)

    def to_document(self) -> dict[str, Any]:
        doc = self.model_dump()
        doc["_id"] = self.proposalId
        return doc


@dataclass(frozen=True)
class CatalogueSettings:
    """What the catalogue adds to every dataset, beyond the message."""

    pid_prefix: str = "20.500.12345"
    source_folder_host: str = ""
    facility: str = ""
    staff_groups: dict[str, str] = field(default_factory=dict)
    created_by: str = "scicow"


def dataset_pid(message_id: str, prefix: str) -> str:
    """The dataset pid for a message id: the same message id always gives the same pid."""
    return f"{prefix}/{uuid.uuid5(PID_NAMESPACE, message_id)}"


def metadata_key(name: str) -> str:
    """A scientificMetadata key that MongoDB can store and query (no '.', '$' or NUL)."""
    return _UNSAFE_KEY.sub("_", name) or "_"


def _plain(value: Any, unit: str = "") -> dict[str, Any]:
    """{value, unit} plus valueSI/unitSI when pint can convert the value."""
    out: dict[str, Any] = {"value": value, "unit": unit}
    si = to_si(value, unit)
    if si is not None:
        out["valueSI"] = si.value
        out["unitSI"] = si.unit
    return out


def scientific_entry(entry: RecordedEntry) -> dict[str, Any]:
    """One scientificMetadata value in SciCat's {value, unit, valueSI, unitSI} shape."""
    out = _plain(entry.value, entry.unit)
    if entry.raw_value != entry.value:
        out["rawValue"] = entry.raw_value
    out["group"] = entry.group
    out["device"] = entry.device
    out["attribute"] = entry.attribute
    if entry.quality is not None:
        out["quality"] = entry.quality
    if entry.error is not None:
        out["error"] = entry.error
    return out


def scientific_metadata(message: ScanMetadata) -> dict[str, Any]:
    """All of a message's scientific metadata, keyed safely for MongoDB."""
    scan = message.scan
    meta: dict[str, Any] = {
        "scan_id": _plain(scan.id),
        "scan_status": _plain(scan.status),
        "scan_source": _plain(message.source),
        "message_id": _plain(message.message_id),
        "config_name": _plain(message.config_name),
        "config_revision": _plain(message.config_revision),
    }
    if scan.points is not None:
        meta["scan_points"] = _plain(scan.points)
    if scan.end is not None:
        meta["scan_duration"] = _plain((scan.end - scan.start).total_seconds(), "s")
    if scan.user:
        meta["scan_user"] = _plain(scan.user)
    # Motors show their range [first, last]; channels their last value, with min and max.
    for col in scan.motors:
        meta[metadata_key(f"motor_{col.label}")] = {
            **_plain([col.first, col.last], col.unit),
            "min": col.min,
            "max": col.max,
        }
    for col in scan.channels:
        meta[metadata_key(f"channel_{col.label}")] = {
            **_plain(col.last, col.unit),
            "min": col.min,
            "max": col.max,
            "source": col.name,
        }
    # Kept so that an older message replayed after a newer one cannot overwrite it.
    meta["message_produced_at"] = {"value": message.produced_at, "unit": ""}
    for entry in message.entries:
        meta[metadata_key(entry.name)] = scientific_entry(entry)
    return meta


def build_dataset(
    message: ScanMetadata,
    proposal: Proposal,
    settings: CatalogueSettings,
) -> dict[str, Any]:
    """The SciCat raw Dataset document for a scan.

    Every time in it comes from the message (``createdAt``/``updatedAt`` are its
    ``produced_at``), so a replayed message writes exactly the same document.
    """
    pid = dataset_pid(message.message_id, settings.pid_prefix)
    scan = message.scan
    pi_name = " ".join(p for p in (proposal.pi_firstname, proposal.pi_lastname) if p)
    pi_email = proposal.pi_email or proposal.email
    files_size = sum(f.size for f in scan.files)
    staff = settings.staff_groups.get(message.beamline, "")
    access = sorted({g for g in (*proposal.accessGroups, staff) if g})
    source_folder = message.data_path.rstrip("/") or "/"
    title = scan.title or f"scan {scan.id}"
    doc: dict[str, Any] = {
        "_id": pid,
        "pid": pid,
        "type": "raw",
        "owner": pi_name or proposal.proposalId,
        "ownerEmail": pi_email,
        "contactEmail": pi_email or proposal.email,
        "principalInvestigators": [pi_email] if pi_email else [],
        "sourceFolder": source_folder,
        "sourceFolderHost": settings.source_folder_host,
        "size": files_size,
        "packedSize": 0,
        "numberOfFiles": len(scan.files),
        "numberOfFilesArchived": 0,
        "creationTime": scan.end or scan.start,
        "startTime": scan.start,
        "endTime": scan.end,
        "datasetName": f"{message.beamline} {scan.id}: {title}",
        "description": title,
        "version": "v4",
        "isPublished": False,
        "ownerGroup": proposal.ownerGroup or proposal.proposalId,
        "accessGroups": access,
        "proposalIds": [proposal.proposalId],
        "instrumentIds": [message.beamline],
        "sampleIds": [],
        "creationLocation": f"/{settings.facility}/{message.beamline}" if settings.facility else message.beamline,
        "dataFormat": _data_format(message),
        "keywords": [message.beamline, message.source, scan.status],
        "techniques": [],
        "sharedWith": [],
        "relationships": [],
        "scientificMetadata": scientific_metadata(message),
        "createdBy": settings.created_by,
        "updatedBy": settings.created_by,
        "createdAt": message.produced_at,
        "updatedAt": message.produced_at,
        "datasetlifecycle": {
            "archivable": True,
            "retrievable": False,
            "publishable": False,
            "isOnCentralDisk": True,
            "archiveStatusMessage": "datasetCreated",
            "retrieveStatusMessage": "",
            "archiveReturnMessage": {},
            "retrieveReturnMessage": {},
            "retrieveIntegrityCheck": False,
        },
    }
    return doc


def _data_format(message: ScanMetadata) -> str:
    suffixes = sorted({f.path.rsplit(".", 1)[-1].lower() for f in message.scan.files if "." in f.path})
    return ", ".join(suffixes)


def build_orig_datablock(message: ScanMetadata, dataset: dict[str, Any]) -> dict[str, Any] | None:
    """The OrigDatablock listing the scan's files, or None when the scan wrote none."""
    files = message.scan.files
    if not files:
        return None
    return {
        "_id": str(uuid.uuid5(PID_NAMESPACE, f"origdatablock:{dataset['pid']}")),
        "datasetId": dataset["pid"],
        "size": sum(f.size for f in files),
        "chkAlg": "sha1" if any(f.chk for f in files) else "",
        "dataFileList": [
            {"path": f.path, "size": f.size, "time": f.time or message.produced_at, "chk": f.chk or ""}
            for f in files
        ],
        "ownerGroup": dataset["ownerGroup"],
        "accessGroups": dataset["accessGroups"],
        "isPublished": False,
        "createdBy": dataset["createdBy"],
        "updatedBy": dataset["updatedBy"],
        "createdAt": dataset["createdAt"],
        "updatedAt": dataset["updatedAt"],
    }

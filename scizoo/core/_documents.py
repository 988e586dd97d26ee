"""SciCat (scicat-backend-next v4) documents: the models of what we write, and their pure builders.

Nothing here talks to a database: the caller passes the proposal, the time and the
settings, and gets back a strict model (``extra="forbid"``, SciCat's required fields),
dumped to a dict only at the Mongo edge with :meth:`DatasetDocument.to_mongo`. What we
read from a store other programs also write is read tolerantly (:class:`Proposal`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ._messages import RecordedEntry, ScanMetadata
from ._units import to_si

#: Namespace of every pid scizoo derives; fixed forever, or replays would make new datasets.
PID_NAMESPACE = uuid.UUID("6a0b7a3e-2f7c-5d2e-9a43-3c1f0d2b5e11")

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

    def to_document(self, *, created_by: str = "scicow", now: datetime | None = None) -> dict[str, Any]:
        """The Proposal as SciCat's schema holds it (``src/proposals/schemas/proposal.schema.ts``).

        What the schema has no field for (a user office says more than SciCat keeps) goes
        into its free ``metadata``, so nothing is lost and no unknown field reaches the
        backend; dates become BSON dates. Raises :class:`pydantic.ValidationError` (naming
        the field) when SciCat could not hold it: no title, no email, a date without a zone.
        """
        data = self.model_dump()
        extra = {k: v for k, v in data.items() if k not in ProposalDocument.model_fields and k != "_id"}
        metadata = dict(data.get("metadata") or {})
        for key, value in extra.items():
            # A field named like one of its metadata keys keeps both (nothing lost).
            metadata[key if key not in metadata or metadata[key] == value else f"{key} (field)"] = value
        known = {k: v for k, v in data.items() if k in ProposalDocument.model_fields}
        doc = ProposalDocument.model_validate({
            **known, "id": self.proposalId, "email": self.email or self.pi_email,
            "ownerGroup": self.ownerGroup or self.proposalId, "metadata": metadata,
            "createdBy": data.get("createdBy") or created_by, "updatedBy": created_by,
            "createdAt": now, "updatedAt": now,
        })
        return doc.to_mongo()


class _Written(BaseModel):
    """A document scizoo writes: every field declared, nothing else accepted."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_mongo(self) -> dict[str, Any]:
        """The document as pymongo stores it (``_id`` by its name, datetimes as BSON dates)."""
        return self.model_dump(by_alias=True)


class Lifecycle(_Written):
    """SciCat's ``datasetlifecycle``, as the backend fills it for a new dataset."""

    archivable: bool = True
    retrievable: bool = False
    publishable: bool = False
    isOnCentralDisk: bool = True
    archiveStatusMessage: str = "datasetCreated"
    retrieveStatusMessage: str = ""
    archiveReturnMessage: dict[str, Any] = {}
    retrieveReturnMessage: dict[str, Any] = {}
    retrieveIntegrityCheck: bool = False


class _Ownable(_Written):
    """SciCat's ownable and audit fields (``src/common/schemas/ownable.schema.ts``)."""

    ownerGroup: Annotated[str, Field(min_length=1)]
    accessGroups: list[str]
    isPublished: bool = False
    createdBy: Annotated[str, Field(min_length=1)]
    updatedBy: Annotated[str, Field(min_length=1)]
    createdAt: AwareDatetime
    updatedAt: AwareDatetime


class MeasurementPeriod(_Written):
    """When and where a proposal measures (``src/proposals/schemas/measurement-period.schema.ts``)."""

    instrument: Annotated[str, Field(min_length=1)]
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    comment: str = ""


class ProposalDocument(_Written):
    """A Proposal as we write it (copied from the user office), in the backend's shape."""

    id: Annotated[str, Field(alias="_id", min_length=1, description="Same as proposalId (the backend's rule).")]
    proposalId: Annotated[str, Field(min_length=1)]
    title: Annotated[str, Field(min_length=1)]
    email: Annotated[str, Field(min_length=1, description="The main proposer's (or else the PI's) email.")]
    pi_email: str = ""
    pi_firstname: str = ""
    pi_lastname: str = ""
    firstname: str = ""
    lastname: str = ""
    abstract: str = ""
    startTime: AwareDatetime | None = None
    endTime: AwareDatetime | None = None
    instrumentIds: list[str] = []
    MeasurementPeriodList: list[MeasurementPeriod] = []
    type: Annotated[str | None, Field(description="One of the backend's proposal types; its default if None.")] = None
    parentProposalId: str | None = None
    metadata: dict[str, Any] = {}
    ownerGroup: Annotated[str, Field(min_length=1)]
    accessGroups: list[str] = []
    isPublished: bool = False
    createdBy: Annotated[str, Field(min_length=1)]
    updatedBy: Annotated[str, Field(min_length=1)]
    createdAt: AwareDatetime | None = None
    updatedAt: AwareDatetime | None = None

    def to_mongo(self) -> dict[str, Any]:
        """Without the times and type when none were given (the backend's defaults apply)."""
        doc = super().to_mongo()
        for name in ("createdAt", "updatedAt", "startTime", "endTime", "type"):
            if doc[name] is None:
                del doc[name]
        return doc


class DatasetRelationship(_Written):
    """A relationship of a dataset to another (``src/datasets/schemas/relationship.schema.ts``)."""

    pid: Annotated[str, Field(min_length=1)]
    relationship: Annotated[str, Field(min_length=1)]


class Technique(_Written):
    """A technique of a dataset (``src/datasets/schemas/technique.schema.ts``)."""

    pid: Annotated[str, Field(min_length=1)]
    name: Annotated[str, Field(min_length=1)]


class DatasetDocument(_Ownable):
    """A raw Dataset as the SciCat backend itself writes it, with the fields it requires."""

    id: Annotated[str, Field(alias="_id", min_length=1)]
    pid: Annotated[str, Field(min_length=1, description="Same as _id; the backend answers 404 without it.")]
    type: Literal["raw", "derived"] = "raw"
    owner: Annotated[str, Field(min_length=1)]
    ownerEmail: str = ""
    contactEmail: Annotated[str, Field(description="Required by the backend: empty only when nobody is known.")]
    principalInvestigators: list[str] = []
    sourceFolder: Annotated[str, Field(min_length=1, description="No trailing slash.")]
    sourceFolderHost: str = ""
    size: Annotated[int, Field(ge=0)]
    packedSize: int = 0
    numberOfFiles: Annotated[int, Field(ge=0)]
    numberOfFilesArchived: int = 0
    creationTime: AwareDatetime
    startTime: AwareDatetime | None = None
    endTime: AwareDatetime | None = None
    datasetName: Annotated[str, Field(min_length=1)]
    description: str = ""
    version: str = "v4"
    proposalIds: list[str]
    instrumentIds: list[str] = []
    sampleIds: list[str] = []
    creationLocation: str = ""
    dataFormat: str = ""
    keywords: list[str] = []
    techniques: list[Technique] = []
    sharedWith: list[str] = []
    relationships: list[DatasetRelationship] = []
    scientificMetadata: dict[str, dict[str, Any]] = {}
    datasetlifecycle: Lifecycle = Lifecycle()


class DerivedDatasetDocument(DatasetDocument):
    """A derived Dataset: what a reduction made of raw ones, and how (SciCat's derived fields)."""

    type: Literal["raw", "derived"] = "derived"
    inputDatasets: Annotated[list[str], Field(min_length=1)]
    usedSoftware: Annotated[list[str], Field(min_length=1)]
    jobParameters: dict[str, Any] = {}
    jobLogData: str = ""


class DataFileEntry(_Written):
    """One file of an OrigDatablock's ``dataFileList``."""

    path: Annotated[str, Field(min_length=1)]
    size: Annotated[int, Field(ge=0)]
    time: datetime
    chk: str = ""


class OrigDatablockDocument(_Ownable):
    """The files of one dataset (``src/origdatablocks/schemas/origdatablock.schema.ts``)."""

    id: Annotated[str, Field(alias="_id", min_length=1)]
    datasetId: Annotated[str, Field(min_length=1)]
    size: Annotated[int, Field(ge=0)]
    chkAlg: str = ""
    dataFileList: list[DataFileEntry]


#: What the producer of a dataset (capture, or a reduction) owns: a later write of the same
#: dataset updates these and nothing else. All the rest is the catalogue's, written once when
#: the dataset is created: publication and lifecycle state, ownership and access, name and
#: description, keywords, relationships, ratings, anything SciCat or a person changed.
#: ``scientificMetadata`` is updated key by key, so a key a person added stays.
CAPTURE_OWNED_DATASET_FIELDS = frozenset({
    "scientificMetadata", "creationTime", "startTime", "endTime", "size", "numberOfFiles",
    "sourceFolder", "sourceFolderHost", "dataFormat", "updatedAt", "updatedBy",
})
#: A reduction run again (a take-over of a dead worker's job) also owns how it was made.
REDUCTION_OWNED_DATASET_FIELDS = CAPTURE_OWNED_DATASET_FIELDS | {
    "inputDatasets", "usedSoftware", "jobParameters", "jobLogData",
}
#: An OrigDatablock's files are the producer's; its ownership and access the catalogue's.
PRODUCER_OWNED_DATABLOCK_FIELDS = frozenset({"dataFileList", "size", "chkAlg", "updatedAt", "updatedBy"})


def producer_update(doc: dict[str, Any], owned: frozenset[str]) -> dict[str, Any]:
    """The update of a later write of an existing document: only the fields its producer owns.

    ``doc`` is the document as built (:meth:`_Written.to_mongo`); a dict field such as
    ``scientificMetadata`` is set key by key (its keys are safe: :func:`metadata_key`), and
    ``updatedAt`` never moves back (a person's change after the scan is newer than the scan).
    """
    update: dict[str, Any] = {}
    for name in (owned & doc.keys()) - {"updatedAt"}:
        value = doc[name]
        if name == "scientificMetadata" and isinstance(value, dict):
            update |= {f"{name}.{key}": v for key, v in value.items()}
        else:
            update[name] = value
    operators: dict[str, Any] = {"$set": update}
    if "updatedAt" in owned and "updatedAt" in doc:
        operators["$max"] = {"updatedAt": doc["updatedAt"]}
    return operators


@dataclass(frozen=True)
class CatalogueSettings:
    """What the catalogue adds to every dataset, beyond the message."""

    pid_prefix: str = "20.500.12345"
    source_folder_host: str = ""
    facility: str = ""
    staff_groups: dict[str, str] = field(default_factory=dict)
    created_by: str = "scicow"
    #: The facility's data contact: a dataset's contactEmail when its proposal names no email
    #: (SciCat requires one).
    contact_email: str = ""


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
    # The scan's own keys stay the scan's: a configured entry stored under one of them (a name
    # kept from before scidog refused it, a motor label that meets a friendly name) is filed
    # beside it, so neither the scan's status nor the ordering guard's time is overwritten.
    for entry in message.entries:
        key = metadata_key(entry.name)
        while key in meta:
            key += "_configured"
        meta[key] = scientific_entry(entry)
    return meta


def build_dataset(
    message: ScanMetadata,
    proposal: Proposal,
    settings: CatalogueSettings,
) -> DatasetDocument:
    """The SciCat raw Dataset document for a scan.

    Every time in it comes from the message (``createdAt``/``updatedAt`` are its
    ``produced_at``), so a replayed message writes exactly the same document.
    """
    pid = dataset_pid(message.message_id, settings.pid_prefix)
    scan = message.scan
    pi_name = " ".join(p for p in (proposal.pi_firstname, proposal.pi_lastname) if p)
    pi_email = proposal.pi_email or proposal.email
    staff = settings.staff_groups.get(message.beamline, "")
    title = scan.title or f"scan {scan.id}"
    return DatasetDocument(
        id=pid,
        pid=pid,
        type="raw",
        owner=pi_name or proposal.proposalId,
        ownerEmail=pi_email,
        contactEmail=pi_email or proposal.email or settings.contact_email,
        # Names, as SciCat's schema says ("first and last name"); its search and frontend show them.
        principalInvestigators=[pi_name] if pi_name else [],
        sourceFolder=message.data_path.rstrip("/") or "/",
        sourceFolderHost=settings.source_folder_host,
        size=sum(f.size for f in scan.files),
        numberOfFiles=len(scan.files),
        creationTime=scan.end or scan.start,
        startTime=scan.start,
        endTime=scan.end,
        datasetName=f"{message.beamline} {scan.id}: {title}",
        description=title,
        ownerGroup=proposal.ownerGroup or proposal.proposalId,
        accessGroups=sorted({g for g in (*proposal.accessGroups, staff) if g}),
        proposalIds=[proposal.proposalId],
        instrumentIds=[message.beamline],
        # The configuration's techniques; like keywords, the catalogue's once written (a curator
        # may correct them): not in CAPTURE_OWNED_DATASET_FIELDS, so a re-capture keeps them.
        techniques=[Technique(pid=t.pid, name=t.name) for t in message.techniques],
        creationLocation=f"/{settings.facility}/{message.beamline}" if settings.facility else message.beamline,
        dataFormat=_data_format(message),
        # Only what never changes for a scan: keywords are the catalogue's once written
        # (people add their own), so a status here would stay "running" for ever.
        keywords=[message.beamline, message.source],
        scientificMetadata=scientific_metadata(message),
        createdBy=settings.created_by,
        updatedBy=settings.created_by,
        createdAt=message.produced_at,
        updatedAt=message.produced_at,
    )


def _data_format(message: ScanMetadata) -> str:
    suffixes = sorted({f.path.rsplit(".", 1)[-1].lower() for f in message.scan.files if "." in f.path})
    return ", ".join(suffixes)


def build_orig_datablock(message: ScanMetadata, dataset: DatasetDocument) -> OrigDatablockDocument | None:
    """The OrigDatablock listing the scan's files, or None when the scan wrote none."""
    files = message.scan.files
    if not files:
        return None
    return OrigDatablockDocument(
        id=str(uuid.uuid5(PID_NAMESPACE, f"origdatablock:{dataset.pid}")),
        datasetId=dataset.pid,
        size=sum(f.size for f in files),
        chkAlg="sha1" if any(f.chk for f in files) else "",
        dataFileList=[
            DataFileEntry(path=f.path, size=f.size, time=f.time or message.produced_at, chk=f.chk or "")
            for f in files
        ],
        ownerGroup=dataset.ownerGroup,
        accessGroups=dataset.accessGroups,
        createdBy=dataset.createdBy,
        updatedBy=dataset.updatedBy,
        createdAt=dataset.createdAt,
        updatedAt=dataset.updatedAt,
    )

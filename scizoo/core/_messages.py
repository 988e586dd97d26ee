"""The Kafka message contract: one pydantic model per message, shared by producer and consumer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal["1"] = "1"

# A recorded value must survive a JSON round trip unchanged.
Scalar = str | int | float | bool | None
Value = Scalar | list[Any] | dict[str, Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataFile(_Strict):
    """One file written by the scan."""

    path: Annotated[str, Field(description="Absolute path of the file.")]
    size: Annotated[int, Field(ge=0, description="Size in bytes.")] = 0
    time: Annotated[AwareDatetime | None, Field(description="Modification time.")] = None
    chk: Annotated[str | None, Field(description="Checksum, if computed.")] = None


class ScanColumn(_Strict):
    """A motor or measurement channel of a scan, summarised over its points."""

    label: Annotated[str, Field(min_length=1, description="Label shown to users (Sardana's column label).")]
    name: Annotated[str, Field(description="Full name, e.g. the channel's Tango name.")] = ""
    unit: Annotated[str, Field(description="Unit of the values.")] = ""
    first: Annotated[float | None, Field(description="Value at the first point.")] = None
    last: Annotated[float | None, Field(description="Value at the last point.")] = None
    min: Annotated[float | None, Field(description="Smallest value recorded.")] = None
    max: Annotated[float | None, Field(description="Largest value recorded.")] = None


class ScanBlock(_Strict):
    """What the scan itself reports."""

    id: Annotated[str, Field(min_length=1, description="Scan id, e.g. the Sardana serial number.")]
    title: Annotated[str, Field(description="Scan title or command line.")] = ""
    start: Annotated[AwareDatetime, Field(description="Start of the scan.")]
    end: Annotated[AwareDatetime | None, Field(description="End of the scan; None while running.")] = None
    status: Annotated[
        Literal["running", "finished", "aborted", "failed"],
        Field(description="Scan status when the message was produced."),
    ] = "finished"
    points: Annotated[int | None, Field(ge=0, description="Number of points recorded.")] = None
    files: Annotated[list[DataFile], Field(description="Files the scan wrote.")] = []
    user: Annotated[str, Field(description="Who ran the scan.")] = ""
    motors: Annotated[list[ScanColumn], Field(description="Moved motors and their ranges.")] = []
    channels: Annotated[list[ScanColumn], Field(description="Measurement-group channels, by label.")] = []


class RecordedEntry(_Strict):
    """One configured attribute, as read at capture time."""

    name: Annotated[str, Field(min_length=1, description="Friendly name from the configuration.")]
    group: Annotated[str, Field(description="Group the entry is shown under.")] = ""
    device: Annotated[str, Field(description="Tango device name.")]
    attribute: Annotated[str, Field(description="Tango attribute name.")]
    value: Annotated[Value, Field(description="Value after the configured mapping.")] = None
    raw_value: Annotated[Value, Field(description="Value as read from Tango.")] = None
    unit: Annotated[str, Field(description="Unit of value, as configured.")] = ""
    quality: Annotated[str | None, Field(description="Tango attribute quality, e.g. ATTR_VALID.")] = None
    error: Annotated[str | None, Field(description="Why the value could not be read.")] = None
    read_time: Annotated[AwareDatetime | None, Field(description="Time stamp of the reading.")] = None


#: A PaNET technique's IRI (the PaN experimental techniques ontology).
PANET_IRI = r"^http://purl\.org/pan-science/PaNET/PaNET\d{5}$"


class TechniqueRef(_Strict):
    """An experimental technique of the scan, as SciCat's ``techniques`` hold one (a PaNET IRI
    and its name), so a federated search (PaNOSC) finds the scan by technique."""

    pid: Annotated[str, Field(pattern=PANET_IRI, description="The technique's PaNET IRI.")]
    name: Annotated[str, Field(min_length=1, max_length=200, description="Its PaNET name.")]


class ScanMetadata(_Strict):
    """The metadata of one scan, produced by scifish and ingested by scicow."""

    schema_version: Annotated[Literal["1"], Field(description="Version of this contract.")] = SCHEMA_VERSION
    message_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=200,
            description="Made at capture; identifies the scan record. The dataset pid is derived from it.",
        ),
    ]
    beamline: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Beamline name.")]
    source: Annotated[Literal["sardana", "scifly", "manual"], Field(description="What triggered the capture.")]
    proposal_id: Annotated[str, Field(min_length=1, description="Proposal the scan belongs to.")]
    data_path: Annotated[str, Field(min_length=1, description="Folder the scan's data is written to.")]
    scan: ScanBlock
    entries: Annotated[list[RecordedEntry], Field(description="The configured attributes as read.")] = []
    config_name: Annotated[str, Field(description="Name of the capture configuration used.")] = ""
    config_revision: Annotated[int, Field(ge=0, description="Revision of that configuration.")] = 0
    techniques: Annotated[list[TechniqueRef], Field(
        max_length=20, description="The beamline's experimental techniques, from that configuration.")] = []
    produced_at: Annotated[AwareDatetime, Field(description="When the message was made.")]


class DatasetIngested(_Strict):
    """Event published after a dataset was written to the catalogue, for reduction hooks."""

    schema_version: Literal["1"] = SCHEMA_VERSION
    pid: Annotated[str, Field(description="Dataset pid in the catalogue.")]
    message_id: str
    beamline: str
    proposal_id: str
    status: str
    ingested_at: AwareDatetime


class DeadLetter(_Strict):
    """A message scicow could not handle, with the reason and the original bytes."""

    schema_version: Literal["1"] = SCHEMA_VERSION
    reason: Annotated[str, Field(description="Why the message was rejected, readable by a person.")]
    topic: str
    partition: int
    offset: int
    key: Annotated[str | None, Field(description="Message key, decoded as UTF-8 with replacement.")] = None
    original_b64: Annotated[str, Field(description="The original message bytes, base64 (a prefix if truncated).")]
    original_size: Annotated[int, Field(ge=0, description="Size of the original message in bytes.")] = 0
    original_truncated: Annotated[
        bool,
        Field(description="Only a prefix of the original is carried (it was too large for the topic); "
                          "topic, partition and offset say where the whole of it is."),
    ] = False
    failed_at: datetime


MESSAGE_MODELS: dict[str, type[BaseModel]] = {
    "scan_metadata": ScanMetadata,
    "dataset_ingested": DatasetIngested,
    "dead_letter": DeadLetter,
}

"""The one capture call every trigger (Sardana recorder, scifly, CLI, demo) goes through."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from scizoo import (
    AttributeConfig,
    BeamlineConfig,
    RecordedEntry,
    ScanBlock,
    ScanMetadata,
    apply_mapping,
    beamline_topic,
)

from ._producer import SpoolingProducer
from ._tango import Reading, TangoReader

logger = logging.getLogger(__name__)

#: Used when the PathFixer cannot be read: scicow then quarantines the dataset
#: (unknown proposal) instead of the scan being lost.
UNKNOWN_PROPOSAL = "unknown"
UNKNOWN_PATH = "/unknown"


def _entry(attr: AttributeConfig, reading: Reading) -> RecordedEntry:
    return RecordedEntry(
        name=attr.name,
        group=attr.group,
        device=attr.device,
        attribute=attr.attribute,
        value=None if reading.error else apply_mapping(reading.value, attr.mapping),
        raw_value=reading.value,
        unit=attr.unit,
        quality=reading.quality,
        error=reading.error,
        read_time=reading.read_time,
    )


@dataclass(frozen=True)
class Captured:
    """Entries read from Tango, and where the PathFixer says the data goes."""

    entries: list[RecordedEntry]
    proposal_id: str
    data_path: str


def read_entries(
    config: BeamlineConfig,
    reader: TangoReader,
    *,
    at: Literal["start", "end"] | None = None,
    pathfixer: bool = True,
) -> Captured:
    """Read the configured attributes (all, or those read at ``at``) and the PathFixer.

    A device that cannot be read gives entries with an ``error``; the capture goes on.
    """
    attrs = [a for a in config.attributes if at is None or a.at == at]
    wanted = [(a.device, a.attribute) for a in attrs]
    use_pathfixer = pathfixer and bool(config.pathfixer)
    if use_pathfixer:
        wanted += [(config.pathfixer, "proposal"), (config.pathfixer, "data_path")]
    readings = reader.read(wanted)
    entries = [_entry(a, readings[(a.device, a.attribute)]) for a in attrs]
    proposal, data_path = UNKNOWN_PROPOSAL, UNKNOWN_PATH
    if use_pathfixer:
        got_proposal = readings[(config.pathfixer, "proposal")]
        got_path = readings[(config.pathfixer, "data_path")]
        if got_proposal.error or not got_proposal.value:
            logger.warning("PathFixer %s gave no proposal: %s", config.pathfixer, got_proposal.error)
            entries.append(
                RecordedEntry(
                    name="pathfixer",
                    device=config.pathfixer,
                    attribute="proposal",
                    error=got_proposal.error or "empty proposal",
                )
            )
        else:
            proposal = str(got_proposal.value)
        if not got_path.error and got_path.value:
            data_path = str(got_path.value)
    return Captured(entries, proposal, data_path)


def build_message(
    config: BeamlineConfig,
    reader: TangoReader,
    *,
    message_id: str,
    source: str,
    scan: ScanBlock,
    now: datetime,
) -> ScanMetadata:
    """Read every configured attribute and the PathFixer, and build the scan's message."""
    return compose_message(
        config, read_entries(config, reader), message_id=message_id, source=source, scan=scan, now=now
    )


def compose_message(
    config: BeamlineConfig,
    captured: Captured,
    *,
    message_id: str,
    source: str,
    scan: ScanBlock,
    now: datetime,
) -> ScanMetadata:
    """The message for entries already read."""
    return ScanMetadata(
        message_id=message_id,
        beamline=config.beamline,
        source=source,
        proposal_id=captured.proposal_id,
        data_path=captured.data_path,
        scan=scan,
        entries=captured.entries,
        config_name=config.name,
        config_revision=config.revision,
        produced_at=now,
    )


def message_record(topic_prefix: str, message: ScanMetadata) -> tuple[str, bytes, bytes]:
    """Topic, key and value of a message on Kafka."""
    return beamline_topic(topic_prefix, message.beamline), message_key(message), message.model_dump_json().encode()


def send_message(producer: SpoolingProducer, topic_prefix: str, message: ScanMetadata) -> str:
    """Hand a message to Kafka (or the spool); returns "sent" or "spooled"."""
    return producer.send(*message_record(topic_prefix, message))


def message_key(message: ScanMetadata) -> bytes:
    """Kafka key: one beamline's scan always lands on the same partition, in order."""
    return f"{message.beamline}/{message.scan.id}".encode()


def capture(
    config: BeamlineConfig,
    reader: TangoReader,
    producer: SpoolingProducer,
    *,
    topic_prefix: str,
    message_id: str,
    source: str,
    scan: ScanBlock,
    now: datetime,
) -> tuple[ScanMetadata, str]:
    """Capture one scan's metadata and hand it to Kafka (or to the spool when Kafka is down).

    Returns the message and "sent" or "spooled".
    """
    message = build_message(config, reader, message_id=message_id, source=source, scan=scan, now=now)
    return message, send_message(producer, topic_prefix, message)

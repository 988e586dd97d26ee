"""The one capture call every trigger (Sardana recorder, scifly, the demo, the CLI) goes through.

:meth:`Capturer.capture` reads the configured attributes (and, where a scan does not say
where it belongs, the PathFixer) in one Tango round trip, builds one message per scan and
hands them all to Kafka, or to the spool when Kafka is down.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from scizoo.core import (
    AttributeConfig,
    BeamlineConfig,
    RecordedEntry,
    ScanBlock,
    ScanMetadata,
    apply_mapping,
    beamline_topic,
    is_reserved_key,
)
from scizoo.ops import CAPTURE_ERRORS, SPOOL_DEPTH

from ._pathfixer import UNKNOWN, PathFixerAnswer, Where, pathfixer_answer, pathfixer_attributes
from ._producer import Outcome, SpoolingProducer
from ._settings import CaptureSettings
from ._tango import Reading, TangoReader

logger = logging.getLogger(__name__)

Source = Literal["sardana", "scifly", "manual"]
When = Literal["start", "end"]


@dataclass(frozen=True)
class ScanRequest:
    """One scan to capture.

    ``where`` is the proposal and data path when the trigger knows them (scifly knows the
    folder a file is in; a scan's end belongs where its start did); None asks the PathFixer.
    ``entries`` were read earlier or elsewhere (the start of the scan, the file's own
    metadata) and come first in the message.
    """

    scan: ScanBlock
    message_id: str
    where: Where | None = None
    entries: Sequence[RecordedEntry] = ()


@dataclass(frozen=True)
class Sent:
    """A captured message and what became of it: "sent" to Kafka, "spooled" on disk (sent
    later), or "refused" by Kafka for good (kept in the spool's dead-letter file)."""

    message: ScanMetadata
    outcome: Outcome


#: A value larger than this (as JSON) is not recorded: its entry says so, and the rest of the
#: scan is kept (a 2 MB string once made a message Kafka refused, losing the whole scan).
MAX_VALUE_BYTES = 64 * 1024


def _non_finite(value: Any) -> int:
    """How many NaN or infinite numbers a value holds (JSON has none: they would become null)."""
    if isinstance(value, float):
        return 0 if math.isfinite(value) else 1
    if isinstance(value, list | tuple):
        return sum(_non_finite(v) for v in value)
    return 0


def _recordable(value: Any) -> tuple[Any, str | None]:
    """The value as it can be recorded, and why not when it cannot (a readable error)."""
    bad = _non_finite(value)
    if bad and isinstance(value, float):
        return None, f"the device answered {value!r}, which is not a number a catalogue can hold"
    if bad:
        return None, f"{bad} of its values are NaN or infinite, which a catalogue cannot hold"
    size = len(json.dumps(value, default=str))
    if size > MAX_VALUE_BYTES:
        return None, f"a value of {size:,} bytes is not recorded (at most {MAX_VALUE_BYTES:,} per entry)"
    return value, None


def _entry(attr: AttributeConfig, reading: Reading, *, end: bool = False) -> RecordedEntry:
    name = f"{attr.name}_end" if end else attr.name
    raw, refused = (reading.value, None) if reading.error else _recordable(reading.value)
    if is_reserved_key(name):  # a configuration stored before scidog refused such names
        refused = (f"friendly name {name!r} is a key every scan records itself: not recorded under it "
                   "(rename it in scidog)")
    error = reading.error or refused
    if refused:  # counted in CAPTURE_ERRORS with the other entry errors, at capture
        logger.warning("%s/%s (%s): %s", attr.device, attr.attribute, attr.name, refused)
    return RecordedEntry(
        name=name,
        group=attr.group,
        device=attr.device,
        attribute=attr.attribute,
        value=None if error else apply_mapping(raw, attr.mapping),
        raw_value=raw,
        unit=attr.unit,
        quality=reading.quality,
        error=error,
        read_time=reading.read_time,
    )


def message_key(message: ScanMetadata) -> bytes:
    """Kafka key: one beamline's scan always lands on the same partition, in order."""
    return f"{message.beamline}/{message.scan.id}".encode()


def message_record(topic_prefix: str, message: ScanMetadata) -> tuple[str, bytes, bytes]:
    """Topic, key and value of a message on Kafka."""
    return beamline_topic(topic_prefix, message.beamline), message_key(message), message.model_dump_json().encode()


@dataclass
class Capturer:
    """A beamline's configuration, Tango reader and producer: what every trigger captures with.

    ``producer`` may be None for a capturer that only builds messages (:meth:`messages`).
    """

    config: BeamlineConfig
    reader: TangoReader
    producer: SpoolingProducer | None
    topic_prefix: str = "scizoo"

    def read(self, *, at: When | None = None, pathfixer: bool = True) -> tuple[list[RecordedEntry], Where]:
        """Read the configured attributes (all, or those read at ``at``) and the PathFixer.

        A device that cannot be read gives entries with an ``error``; the capture goes on.
        Without the PathFixer (or when it cannot say), the place is :data:`UNKNOWN`.
        """
        attrs = [a for a in self.config.attributes if at is None or a.at in (at, "both")]
        wanted = [(a.device, a.attribute) for a in attrs]
        device = self.config.pathfixer if pathfixer else ""
        if device:
            wanted += pathfixer_attributes(device)
        readings = self.reader.read(wanted)
        # An attribute read at both ends of a scan: its end reading is <name>_end.
        entries = [_entry(a, readings[(a.device, a.attribute)], end=at == "end" and a.at == "both") for a in attrs]
        if not device:
            return entries, UNKNOWN
        answer = pathfixer_answer(device, readings)
        if answer.proposal is None:
            entries.append(self._pathfixer_failed(device, answer))
        return entries, answer.or_unknown()

    def _pathfixer_failed(self, device: str, answer: PathFixerAnswer) -> RecordedEntry:
        logger.warning("PathFixer %s gave no proposal: %s", device, answer.proposal_error)
        return RecordedEntry(name="pathfixer", device=device, attribute="proposal", error=answer.proposal_error)

    def messages(
        self, requests: Sequence[ScanRequest], *, source: Source, now: datetime, at: When | None = None
    ) -> list[ScanMetadata]:
        """Read Tango once for all ``requests`` and build their messages (nothing is sent)."""
        need_pathfixer = any(r.where is None for r in requests)
        entries, found = self.read(at=at, pathfixer=need_pathfixer)
        return [
            ScanMetadata(
                message_id=r.message_id,
                beamline=self.config.beamline,
                source=source,
                proposal_id=(r.where or found).proposal_id,
                data_path=(r.where or found).data_path,
                scan=r.scan,
                entries=[*r.entries, *entries],
                config_name=self.config.name,
                config_revision=self.config.revision,
                techniques=self.config.techniques,
                produced_at=now,
            )
            for r in requests
        ]

    def capture(
        self, requests: Sequence[ScanRequest], *, source: Source, now: datetime, at: When | None = None
    ) -> list[Sent]:
        """Capture the scans' metadata and hand it to Kafka (or the spool); one :class:`Sent` each."""
        if self.producer is None:
            raise ValueError("this Capturer has no producer: use messages() or give it one")
        if not requests:
            return []
        messages = self.messages(requests, source=source, now=now, at=at)
        for entry in messages[0].entries if messages else ():
            if entry.error:
                CAPTURE_ERRORS.labels(entry.device).inc()
        outcomes = self.producer.send_many([message_record(self.topic_prefix, m) for m in messages])
        SPOOL_DEPTH.set(self.producer.pending())
        return [Sent(m, o) for m, o in zip(messages, outcomes, strict=True)]

    def capture_one(
        self, request: ScanRequest, *, source: Source, now: datetime, at: When | None = None
    ) -> Sent:
        """:meth:`capture` of a single scan."""
        return self.capture([request], source=source, now=now, at=at)[0]

    def close(self) -> None:
        """Close the producer (its spool stays on disk) and the Tango reader."""
        if self.producer is not None:
            self.producer.close()
        self.reader.close()


def open_capturer(settings: CaptureSettings, config: BeamlineConfig) -> Capturer:
    """A capturer with its own Tango reader and spooling producer, from settings; close it when done."""
    reader = TangoReader(settings.device_addresses, timeout_s=settings.device_timeout_s,
                         probe_interval_s=settings.device_probe_interval_s)
    producer = SpoolingProducer(settings.kafka_bootstrap, settings.spool_dir, send_timeout_s=settings.send_timeout_s,
                                producer_config=settings.kafka_security())
    return Capturer(config, reader, producer, settings.topic_prefix)

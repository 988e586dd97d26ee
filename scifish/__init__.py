"""scifish: capture a scan's metadata from Tango and hand it to Kafka."""

from pathlib import Path

from ._capture import (
    UNKNOWN_PATH,
    UNKNOWN_PROPOSAL,
    Captured,
    build_message,
    capture,
    compose_message,
    message_key,
    message_record,
    read_entries,
    send_message,
)
from ._producer import Spool, SpoolingProducer
from ._settings import ScifishSettings
from ._tango import Reading, TangoReader

#: The folder to put in the MacroServer's RecorderPath (holds ScizooRecorder).
RECORDER_PATH = str(Path(__file__).resolve().parent / "recorders")

__all__ = [
    "RECORDER_PATH",
    "Captured",
    "compose_message",
    "read_entries",
    "send_message",
    "Reading",
    "ScifishSettings",
    "Spool",
    "SpoolingProducer",
    "TangoReader",
    "UNKNOWN_PATH",
    "UNKNOWN_PROPOSAL",
    "build_message",
    "capture",
    "message_key",
    "message_record",
]

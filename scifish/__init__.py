"""scifish: capture a scan's metadata from Tango and hand it to Kafka.

Every trigger (the Sardana recorder, scifly, the demo, ``scifish capture``) calls
:meth:`Capturer.capture`. The simulated beamline for the demo and the tests is in
:mod:`scifish.testing`.
"""

from pathlib import Path

from ._capture import Capturer, ScanRequest, Sent, Source, message_key, message_record, open_capturer
from ._configsource import ActiveConfig
from ._pathfixer import UNKNOWN, PathFixerAnswer, Where, pathfixer_answer, pathfixer_attributes
from ._producer import Outcome, SpoolingProducer, is_refusal
from ._settings import CaptureSettings, ScifishSettings
from ._spool import DEAD_LETTER_FILE, Record, Spool, SpoolError, Torn
from ._tango import Reading, TangoReader

#: The folder to put in the MacroServer's RecorderPath (holds ScizooRecorder).
RECORDER_PATH = str(Path(__file__).resolve().parent / "recorders")

__all__ = [
    "DEAD_LETTER_FILE",
    "RECORDER_PATH",
    "UNKNOWN",
    "ActiveConfig",
    "CaptureSettings",
    "Capturer",
    "Outcome",
    "PathFixerAnswer",
    "Reading",
    "Record",
    "ScanRequest",
    "ScifishSettings",
    "Sent",
    "Source",
    "Spool",
    "SpoolError",
    "SpoolingProducer",
    "TangoReader",
    "Torn",
    "Where",
    "is_refusal",
    "message_key",
    "message_record",
    "open_capturer",
    "pathfixer_answer",
    "pathfixer_attributes",
]

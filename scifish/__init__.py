"""scifish: capture a scan's metadata from Tango and hand it to Kafka."""

from ._capture import UNKNOWN_PATH, UNKNOWN_PROPOSAL, build_message, capture, message_key
from ._producer import Spool, SpoolingProducer
from ._settings import ScifishSettings
from ._tango import Reading, TangoReader

__all__ = [
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
]

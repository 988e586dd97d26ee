"""Kafka topic names: one topic per beamline, ``<prefix>.<beamline>``."""

from __future__ import annotations

import re


def beamline_topic(prefix: str, beamline: str) -> str:
    """The topic a beamline's scan messages go to."""
    return f"{prefix}.{beamline}"


def topic_pattern(prefix: str) -> str:
    """A regex matching every beamline topic of ``prefix`` and nothing else.

    The dead-letter and event topics are named ``<prefix>-...`` so the pattern never
    subscribes scicow to its own output.
    """
    return rf"^{re.escape(prefix)}\.[A-Za-z0-9_-]+$"


def dead_letter_topic(prefix: str) -> str:
    return f"{prefix}-deadletter"


def events_topic(prefix: str) -> str:
    return f"{prefix}-ingested"

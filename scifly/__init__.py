"""scifly: follows the active data path and turns completed files into scan metadata messages."""

from __future__ import annotations

import threading

from ._readers import READERS, read_file_metadata
from ._settings import SciflySettings
from ._watch import FileWatcher, ProgramRule, SciflyConfig, SentState, file_message_id, load_scifly_config

__all__ = [
    "READERS",
    "FileWatcher",
    "ProgramRule",
    "SciflyConfig",
    "SciflySettings",
    "SentState",
    "file_message_id",
    "load_scifly_config",
    "open_watcher",
    "read_file_metadata",
    "run_watcher",
]


def open_watcher(settings: SciflySettings) -> FileWatcher:
    """A watcher with its Tango reader and Kafka producer, from settings; close it when done."""
    from scifish import SpoolingProducer, TangoReader
    from scizoo import load_beamline_config

    config = load_scifly_config(settings.config_file)
    beamline = load_beamline_config(settings.beamline_config_file)
    reader = TangoReader(settings.device_addresses, timeout_s=settings.device_timeout_s)
    producer = SpoolingProducer(settings.kafka_bootstrap, settings.spool_dir, send_timeout_s=settings.send_timeout_s)
    return FileWatcher(config, beamline, reader, producer, topic_prefix=settings.topic_prefix,
                       state_file=settings.state_file)


def run_watcher(settings: SciflySettings, stop: threading.Event) -> None:
    """Run a watcher until ``stop`` is set (the CLI calls this)."""
    watcher = open_watcher(settings)
    try:
        watcher.run(stop)
    finally:
        watcher.close()

"""scifly: follows the active data path and turns completed files into scan metadata messages."""

from __future__ import annotations

import threading

from ._config import ProgramRule, SciflyConfig, load_scifly_config
from ._paths import DataPathRules, PathRefused
from ._readers import READERS, read_file_metadata
from ._settings import SciflySettings
from ._state import SentState
from ._watch import FileWatcher

__all__ = [
    "READERS",
    "DataPathRules",
    "FileWatcher",
    "PathRefused",
    "ProgramRule",
    "SciflyConfig",
    "SciflySettings",
    "SentState",
    "load_scifly_config",
    "open_watcher",
    "read_file_metadata",
    "run_watcher",
]


def open_watcher(settings: SciflySettings) -> FileWatcher:
    """A watcher with its Tango reader and Kafka producer, from settings; close it when done."""
    from scifish import open_capturer
    from scizoo.core import load_beamline_config

    paths = settings.data_paths()  # first: without a rule, nothing else is worth opening
    config = load_scifly_config(settings.config_file)
    active = settings.active_config()
    if active is None:
        beamline = load_beamline_config(settings.beamline_config_file)
        return FileWatcher(config, open_capturer(settings, beamline), state_file=settings.state_file, paths=paths)
    active.start()
    return FileWatcher(config, open_capturer(settings, active.current()), state_file=settings.state_file,
                       paths=paths, beamline_config=active.current)


def run_watcher(settings: SciflySettings, stop: threading.Event) -> None:
    """Run a watcher until ``stop`` is set (the CLI calls this).

    Raises :class:`~scizoo.core.DependencyUnavailable` when the PathFixer cannot be read at start.
    """
    from scizoo.ops import HealthServer, Readiness, broker_problem, first_problem

    watcher = open_watcher(settings)
    health = None
    try:
        watcher.check_pathfixer()
        if settings.health_port is not None:
            # Ready: the PathFixer is read, its data path is accepted, and Kafka answers (without
            # Kafka scifly still works, into its spool, but is not ready: an operator sees it).
            ready = first_problem(watcher.path_problem, watcher.pathfixer_problem,
                                  broker_problem(settings.kafka_bootstrap))
            health = HealthServer(settings.health_port, Readiness(ready)).start()
        watcher.run(stop)
    finally:
        if health is not None:
            health.stop()
        watcher.close()

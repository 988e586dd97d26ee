"""Which pipelines exist: ours, and those a facility registers through entry points."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from ._pipeline import Pipeline

logger = logging.getLogger(__name__)
GROUP = "scizoo.pipelines"


def pipelines() -> dict[str, Pipeline]:
    """Every pipeline of the ``scizoo.pipelines`` entry-point group, by name (scizoo's own included)."""
    found: dict[str, Pipeline] = {}
    for entry in entry_points(group=GROUP):
        try:
            pipeline = entry.load()
        except Exception as err:  # noqa: BLE001 - a broken plug-in must not take the others down
            logger.error("pipeline %s (%s) cannot be loaded: %s: %s", entry.name, entry.value, type(err).__name__, err)
            continue
        if not isinstance(pipeline, Pipeline):
            logger.error("entry point %s is not a Pipeline", entry.value)
            continue
        found[pipeline.name] = pipeline
    return found

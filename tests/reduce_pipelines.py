"""Pipelines for the reduction tests (found by rules as ``tests.reduce_pipelines:<NAME>``)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from scireduce import Pipeline, Step
from scireduce.pipelines import PROFILE


def _explode(params: BaseModel, raw: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("this reduction always fails")


def _hang(params: BaseModel, raw: dict[str, Any]) -> dict[str, Any]:
    time.sleep(60)
    return {}


def _partial_then_hang(params: BaseModel, raw: dict[str, Any]) -> dict[str, Any]:
    """What a C library or a child process may do: write to fd 1 (past sys.stdout), no newline, then hang."""
    os.write(1, b"partial")
    time.sleep(600)
    return {}


FAILING = Pipeline("failing", "1", (Step("explode", "1", _explode),))
HANGING = Pipeline("hanging", "1", (Step("hang", "1", _hang),))
PARTIAL_THEN_HANGING = Pipeline("partial-then-hanging", "1", (Step("hang", "1", _partial_then_hang),))


def _slow_load(params: BaseModel, raw: dict[str, Any]) -> dict[str, Any]:
    """The profile's load, after SCIZOO_TEST_JOB_SLEEP_S seconds (set for one worker only). With
    SCIZOO_TEST_JOB_STARTED_DIR, the job's process says it is in its pipeline: a file named by its pid."""
    started = os.environ.get("SCIZOO_TEST_JOB_STARTED_DIR")
    if started:
        (Path(started) / str(os.getpid())).touch()
    time.sleep(float(os.environ.get("SCIZOO_TEST_JOB_SLEEP_S", "0")))
    return PROFILE.steps[0].run(params, raw=raw)


#: The shipped profile pipeline, slow to start where the environment says so.
SLOW = Pipeline("slow", "1", (Step("load", "1", _slow_load, PROFILE.steps[0].params), *PROFILE.steps[1:]))

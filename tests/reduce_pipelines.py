"""Pipelines for the reduction tests (found by rules as ``tests.reduce_pipelines:<NAME>``)."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel

from scireduce import Pipeline, Step


def _explode(params: BaseModel, raw: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("this reduction always fails")


def _hang(params: BaseModel, raw: dict[str, Any]) -> dict[str, Any]:
    time.sleep(60)
    return {}


FAILING = Pipeline("failing", "1", (Step("explode", "1", _explode),))
HANGING = Pipeline("hanging", "1", (Step("hang", "1", _hang),))

"""The workers' pipelines as data (:class:`~scizoo.core.PipelineDescription`), written to the
store at a worker's start so the scan table can draw them and name their parameters: it may not
import scireduce, and should show what the workers really run, in the versions they run."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo.collection import Collection

from scizoo.core import PipelineDescription, StepDescription, parameters_of

from ._pipeline import Pipeline


def describe(pipeline: Pipeline, *, by: str, now: datetime) -> PipelineDescription:
    """The pipeline's steps, their inputs, versions and parameters (types, defaults, bounds)."""
    return PipelineDescription(
        id=pipeline.name, name=pipeline.name, version=pipeline.version, description=pipeline.description,
        steps=[StepDescription(name=s.name, version=s.version, inputs=list(s.inputs),
                               parameters=parameters_of(s.params.model_json_schema())) for s in pipeline.steps],
        publishedBy=by, publishedAt=now)


def publish_pipelines(collection: Collection[dict[str, Any]], pipelines: Mapping[str, Pipeline], *, by: str,
                      now: datetime) -> int:
    """Write each pipeline's description (replacing an older one of the same name); how many."""
    for pipeline in pipelines.values():
        doc = describe(pipeline, by=by, now=now).to_mongo()
        collection.replace_one({"_id": doc["_id"]}, doc, upsert=True)
    return len(pipelines)

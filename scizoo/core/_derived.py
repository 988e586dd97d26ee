"""What a reduction makes, as SciCat documents: the derived Dataset, its OrigDatablock and its plot.

Pure: the raw dataset, the job, what the job's run reported (:class:`ReductionOutput`) and
``now`` in, strict models out. Every pid is derived from the job, so a job run twice (a
take-over of a dead worker's job) writes the same documents again.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ._attachments import AttachmentDocument, build_attachment
from ._documents import (
    PID_NAMESPACE,
    DataFileEntry,
    DerivedDatasetDocument,
    Lifecycle,
    OrigDatablockDocument,
)

#: The user the reduction workers write as (createdBy, updatedBy).
REDUCTION_USER = "scireduce"


class OutputFile(BaseModel):
    """One file a reduction wrote."""

    model_config = ConfigDict(extra="ignore")

    path: Annotated[str, Field(min_length=1)]
    size: Annotated[int, Field(ge=0)]
    chk: str = ""


class RecipeStep(BaseModel):
    """One step of a recipe: what the derived dataset names in ``usedSoftware``."""

    # What else a pipeline says of a step (its cache key) stays in the recipe as it was reported.
    model_config = ConfigDict(extra="allow")

    name: Annotated[str, Field(min_length=1)]
    version: str


class Recipe(BaseModel):
    """How a result was made: the pipeline, its steps' versions, and (kept as reported, in the
    derived dataset's metadata) whatever else the run says, such as parameters, inputs and
    environment."""

    model_config = ConfigDict(extra="allow")

    pipeline: Annotated[str, Field(min_length=1)]
    pipeline_version: str
    steps: list[RecipeStep]


class ReductionSummary(BaseModel):
    """The figures of a result the derived dataset shows."""

    model_config = ConfigDict(extra="ignore")

    bins: Annotated[int, Field(ge=0)]
    points: Annotated[int | float, Field(ge=0)]


class ReductionOutput(BaseModel):
    """What a job's run reports (the last line of ``scireduce._job``'s output).

    Read tolerantly (unknown fields ignored): a rule may run its job in another environment,
    with another scizoo version. What :func:`build_derived` reads is declared, so a run that
    reports less fails its job with the reason when it is read, never the worker that builds
    the documents.
    """

    model_config = ConfigDict(extra="ignore")

    executed: list[str]
    recipe: Recipe
    folder: Annotated[str, Field(min_length=1)]
    files: list[OutputFile]
    summary: ReductionSummary


class DerivedDocuments(BaseModel):
    """The documents of one reduction, written together."""

    dataset: DerivedDatasetDocument
    datablock: OrigDatablockDocument
    plot: AttachmentDocument | None


def derived_pid(job_id: str, prefix: str) -> str:
    """The pid of the derived dataset a job makes: the same job, the same dataset."""
    return f"{prefix}/{uuid.uuid5(PID_NAMESPACE, 'derived:' + job_id)}"


def build_derived(raw: dict[str, Any], *, job_id: str, rule: str, params: dict[str, Any], output: ReductionOutput,
                  log: str, plot: str | None, software: str, pid_prefix: str, now: datetime,
                  group: list[dict[str, Any]] | None = None) -> DerivedDocuments:
    """The derived Dataset of ``raw`` (a stored raw Dataset), its OrigDatablock and, when the job
    made a plot (``plot``: the image as a data URL), its Attachment; with the raw dataset's access.

    ``group``: the raw datasets of a group reduction (``raw`` among them, all of one owner
    group): every one is an input, and the result is shared only with the groups every input is
    shared with, so reducing scans together never shows one to someone who could not read it.

    ``software`` is what ran it (``scizoo <version>``); ``log`` the tail of the job's log."""
    pid = derived_pid(job_id, pid_prefix)
    files, recipe = output.files, output.recipe
    inputs = group or [raw]
    shared = [g for g in raw.get("accessGroups", []) if all(g in (d.get("accessGroups") or []) for d in inputs)]
    names = ", ".join(str(d["_id"]) for d in inputs[:5]) + (f" and {len(inputs) - 5} more" if len(inputs) > 5 else "")
    described = f"{recipe.pipeline} of {names}" if group is None else f"{recipe.pipeline} of {len(inputs)} scans: {names}"
    grouped = {} if group is None else {"scans": {"value": len(inputs), "unit": ""}}
    dataset = DerivedDatasetDocument(
        id=pid, pid=pid, owner=raw.get("owner") or raw["ownerGroup"], ownerEmail=raw.get("ownerEmail", ""),
        contactEmail=raw.get("contactEmail", ""), principalInvestigators=raw.get("principalInvestigators", []),
        sourceFolder=output.folder, size=sum(f.size for f in files), numberOfFiles=len(files),
        creationTime=now, datasetName=f"{raw.get('datasetName', raw['_id'])} · {recipe.pipeline}",
        description=described, proposalIds=raw.get("proposalIds", []),
        instrumentIds=raw.get("instrumentIds", []), creationLocation=raw.get("creationLocation", ""),
        dataFormat="nxs, csv, png", keywords=["derived", recipe.pipeline],
        scientificMetadata={"bins": {"value": output.summary.bins, "unit": ""},
                            "points": {"value": output.summary.points, "unit": ""},
                            "recipe": {"value": json.dumps(recipe.model_dump(mode="json"), sort_keys=True),
                                       "unit": ""}, **grouped},
        ownerGroup=raw["ownerGroup"], accessGroups=shared, createdBy=REDUCTION_USER,
        updatedBy=REDUCTION_USER, createdAt=now, updatedAt=now, datasetlifecycle=Lifecycle(),
        inputDatasets=[d["_id"] for d in inputs],
        usedSoftware=[software, f"{recipe.pipeline} {recipe.pipeline_version}",
                      *(f"{s.name} {s.version}" for s in recipe.steps)],
        jobParameters={"rule": rule, "params": params, "job": job_id}, jobLogData=log,
    )
    datablock = OrigDatablockDocument(
        id=str(uuid.uuid5(PID_NAMESPACE, f"origdatablock:{pid}")), datasetId=pid, size=dataset.size, chkAlg="sha1",
        dataFileList=[DataFileEntry(path=f.path, size=f.size, time=now, chk=f.chk) for f in files],
        ownerGroup=dataset.ownerGroup, accessGroups=dataset.accessGroups, createdBy=REDUCTION_USER,
        updatedBy=REDUCTION_USER, createdAt=now, updatedAt=now,
    )
    attachment = None
    if plot is not None:
        attachment = build_attachment(dataset.to_mongo(), aid=str(uuid.uuid5(PID_NAMESPACE, f"attachment:{pid}")),
                                      caption=f"{recipe.pipeline} profile", thumbnail=plot, user=REDUCTION_USER,
                                      now=now)
    return DerivedDocuments(dataset=dataset, datablock=datablock, plot=attachment)

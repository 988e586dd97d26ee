"""A reduction preview: a rule's pipeline run on one scan with changed parameters, for the rules
page's pipeline view (issue 22). The scan table writes the request; a reduction worker answers
it through the pipeline's chained cache (only what is downstream of a changed parameter runs)
and writes the final step's curve and which steps ran or were cached into the same document.

A preview is no catalogue record: no job, no derived dataset, nothing published; it expires.
Shared here because the scan table (scanlog_api) and the workers (scireduce) may not import
each other: the store and this module are what they share.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

#: The previews asked for and answered, _id a uuid; each expires (``expiresAt``: the store's TTL
#: index removes it, ``TTL_INDEXES``).
PREVIEW_COLLECTION: Final = "ScizooReductionPreview"
#: How long a preview is kept after it was asked for.
PREVIEW_LIFETIME: Final = timedelta(hours=1)
#: A preview is for a person waiting at the page: its worker stops one that takes longer, and says so.
PREVIEW_TIMEOUT_S: Final = 20.0
#: "running" this long after its start, a preview's worker died (it would have settled it by
#: PREVIEW_TIMEOUT_S): the scan table then says so rather than "running" until it expires.
PREVIEW_STALE_S: Final = PREVIEW_TIMEOUT_S + 15.0
#: The most points of a curve a preview carries (a profile has a few; the largest bins is 10,000).
MAX_PREVIEW_POINTS: Final = 20_000

Params = dict[str, dict[str, Any]]


class PreviewState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    #: A later preview of the same person replaced it before a worker took it.
    SUPERSEDED = "superseded"


class PreviewCurve(BaseModel):
    """The final step's result: x, y and y's uncertainty, point by point."""

    model_config = ConfigDict(extra="forbid")

    x: Annotated[list[float], Field(max_length=MAX_PREVIEW_POINTS)]
    y: Annotated[list[float], Field(max_length=MAX_PREVIEW_POINTS)]
    sigma: Annotated[list[float], Field(max_length=MAX_PREVIEW_POINTS)]


class PreviewDocument(BaseModel):
    """A preview in :data:`PREVIEW_COLLECTION` (strict: scizoo writes every field)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_enum_values=True)

    id: Annotated[str, Field(alias="_id", min_length=1)]
    datasetId: Annotated[str, Field(min_length=1)]
    rule: Annotated[str, Field(min_length=1)]
    pipeline: Annotated[str, Field(min_length=1)]
    #: The rule's parameters with those asked for on top (what runs).
    params: Params
    requestedBy: Annotated[str, Field(min_length=1)]
    state: PreviewState
    createdAt: AwareDatetime
    expiresAt: AwareDatetime
    worker: str | None = None
    startedAt: AwareDatetime | None = None
    endedAt: AwareDatetime | None = None
    #: The steps in the pipeline's order, and of them those that ran (the others came from the cache).
    steps: list[str] | None = None
    executed: list[str] | None = None
    result: PreviewCurve | None = None
    #: Why it failed, in a sentence (and the end of the run's log).
    error: str | None = None

    def to_mongo(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


def new_preview(preview_id: str, pid: str, rule: str, pipeline: str, params: Params, *, requested_by: str,
                now: datetime) -> PreviewDocument:
    """A preview asked for now, waiting for a worker."""
    return PreviewDocument(id=preview_id, datasetId=pid, rule=rule, pipeline=pipeline, params=params,
                           requestedBy=requested_by, state=PreviewState.QUEUED, createdAt=now,
                           expiresAt=now + PREVIEW_LIFETIME)

"""The API's request and response bodies."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from scizoo.core import ReductionRule

from ._table import FIXED_COLUMNS


class RatingIn(BaseModel):
    value: Annotated[float | None, Field(description="0.5 to 3 in half steps; null removes your rating.",
                                         allow_inf_nan=False)]


class CommentIn(BaseModel):
    text: Annotated[str, Field(min_length=1, max_length=10_000)]


class ElogIn(BaseModel):
    pids: Annotated[list[str], Field(min_length=1, max_length=5000)]
    columns: list[str] = list(FIXED_COLUMNS)
    title: Annotated[str, Field(max_length=300)] = "Exported from Scanlog"
    entry_id: Annotated[str | None, Field(description="Append to this entry instead of creating one.")] = None


class RerunIn(BaseModel):
    rule: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$",
                               description="A rule that has run on the scan.")]
    params: Annotated[dict[str, dict[str, Any]], Field(
        description="Changed parameters, step -> name -> value; merged into the rule's own.")] = {}


class RulesIn(BaseModel):
    revision: Annotated[int, Field(ge=0, description="The revision this change starts from (409 if stale).")]
    rules: Annotated[list[ReductionRule], Field(max_length=500)]


class Page(BaseModel):
    data: list[dict[str, Any]]
    count: Annotated[int, Field(description="Total number of scans matching the filter.")]

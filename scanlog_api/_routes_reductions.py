"""The reduction rules' routes and page: the rules in use, their history, the diff between two
revisions, a restore, and the dry run before saving. Each a few lines over the reductions'
rule store (``_rules_history``); who may change what is decided there."""

# No `from __future__ import annotations`: FastAPI reads the real annotations.

from datetime import UTC, datetime
from importlib.resources import files
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from scizoo.core import ReductionRule, ReductionRuleSet

from ._deps import Jobs, Writer
from ._models import RulesIn
from ._rules_history import MAX_HISTORY

router = APIRouter()
#: A revision number is a JavaScript-safe integer (and so one MongoDB's 8-byte ints hold).
MAX_REVISION = 2**53 - 1
Revision = Annotated[int, Path(ge=1, le=MAX_REVISION, description="A revision of the rules.")]


class RulesDryRunIn(BaseModel):
    rules: Annotated[list[ReductionRule], Field(max_length=500, description="The rules as they would be saved.")]


class RestoreIn(BaseModel):
    revision: Annotated[int, Field(ge=0, le=MAX_REVISION,
                                   description="The revision in use that the restore replaces (409 if stale).")]


@router.get("/api/reduction-rules", summary="The reduction rules in use: which pipeline runs for which scans")
def reduction_rules(user: Writer, jobs: Jobs) -> dict[str, Any]:
    return {**jobs.rules(), "mayChange": jobs.rule_rights(user)}


@router.put("/api/reduction-rules",
            summary="Change the reduction rules (administrators; a beamline's staff its rules; from the revision read)")
def set_reduction_rules(body: RulesIn, user: Writer, jobs: Jobs) -> dict[str, Any]:
    return jobs.set_rules(user, body.revision, ReductionRuleSet(rules=body.rules), datetime.now(UTC))


@router.post("/api/reduction-rules/dry-run",
             summary="Which of your newest 200 scans these rules would reduce (nothing is saved or run)")
def dry_run_rules(body: RulesDryRunIn, user: Writer, jobs: Jobs) -> dict[str, Any]:
    return jobs.dry_run(user, ReductionRuleSet(rules=body.rules))


@router.get("/api/reduction-rules/revisions", summary="The revisions of the reduction rules, newest first")
def rule_revisions(user: Writer, jobs: Jobs,
                   limit: Annotated[int, Query(ge=1, le=MAX_HISTORY)] = 50) -> dict[str, Any]:
    return jobs.rule_history(limit)


@router.get("/api/reduction-rules/revisions/{number}", summary="One revision of the reduction rules, whole")
def rule_revision(number: Revision, user: Writer, jobs: Jobs) -> dict[str, Any]:
    return jobs.rule_revision(number)


@router.get("/api/reduction-rules/diff", summary="What changed between two revisions, rule by rule and field by field")
def rule_diff(user: Writer, jobs: Jobs, old: Annotated[int, Query(alias="from", ge=1, le=MAX_REVISION)],
              new: Annotated[int, Query(alias="to", ge=1, le=MAX_REVISION)]) -> dict[str, Any]:
    return jobs.rule_diff(old, new)


@router.post("/api/reduction-rules/revisions/{number}/restore",
             summary="Restore an old revision: a new revision with its rules (from the revision in use)")
def restore_rules(number: Revision, body: RestoreIn, user: Writer, jobs: Jobs) -> dict[str, Any]:
    return jobs.restore_rules(user, number, body.revision, datetime.now(UTC))


@router.get("/api/pipelines",
            summary="The reduction workers' pipelines: steps, their inputs and versions, parameters with types and defaults")
def pipelines(user: Writer, jobs: Jobs) -> list[dict[str, Any]]:
    return jobs.pipelines()


@router.get("/rules", response_class=HTMLResponse, include_in_schema=False)
def rules_page() -> str:
    return files("scanlog_api").joinpath("static/rules.html").read_text(encoding="utf-8")

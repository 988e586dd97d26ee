"""The reduction previews' routes (the rules page's pipeline view): ask for one, read it. A few
lines each over :class:`~scanlog_api._previews.Previews`; who may is decided there."""

# No `from __future__ import annotations`: FastAPI reads the real annotations.

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from ._deps import Writer, services
from ._errors import NotConfigured
from ._previews import Previews

router = APIRouter()


def get_previews(request: Request) -> Previews:
    store = services(request).store
    catalogue = getattr(store, "catalogue", None)
    if catalogue is None:
        raise NotConfigured("this scan table has no catalogue: no reduction previews")
    return Previews(store, catalogue)


PreviewsDep = Annotated[Previews, Depends(get_previews)]
ParamValue = Annotated[dict[str, Any], Field(max_length=50)]


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pid: Annotated[str, Field(min_length=1, max_length=300, description="The scan (one you may read).")]
    rule: Annotated[str, Field(min_length=1, max_length=200, description="A rule in use that applies to the scan.")]
    params: Annotated[dict[str, ParamValue], Field(max_length=50, description=(
        "Parameters over the rule's own, {step: {parameter: value}}, as the workers' pipeline takes them."))] = {}


@router.post("/api/reduction-previews", status_code=202,
             summary="Preview a rule's pipeline on one of your scans with changed parameters (nothing is saved)")
def request_preview(body: PreviewIn, user: Writer, previews: PreviewsDep) -> dict[str, Any]:
    return previews.request(user, body.pid, body.rule, body.params, datetime.now(UTC))


@router.get("/api/reduction-previews/{preview_id}",
            summary="A preview you asked for: its state, the curve, and which steps ran (the others were cached)")
def read_preview(preview_id: Annotated[str, Path(max_length=64)], user: Writer,
                 previews: PreviewsDep) -> dict[str, Any]:
    return previews.get(preview_id, user)

"""Saved views' routes: a few lines each over :class:`~scanlog_api._views.ViewRules`."""

# No `from __future__ import annotations`: FastAPI reads the real annotations.

import threading
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request

from ._deps import Writer, services
from ._errors import NotConfigured
from ._store import ScanStore
from ._views import MAX_VIEWS, ViewIn, ViewRules, ViewStore

router = APIRouter(tags=["views"])
_lock = threading.Lock()


def get_views(request: Request) -> ViewRules:
    """The app's view store: ``app.state.views`` when one was given (the in-memory one of
    :mod:`scanlog_api.testing`), else one over the catalogue of the scan store, made once."""
    state = request.app.state
    with _lock:
        views: ViewRules | None = getattr(state, "views", None)
        if views is None:
            store = services(request).store
            if not isinstance(store, ScanStore):
                raise NotConfigured("this scan table keeps no saved views (they need the catalogue)")
            views = state.views = ViewStore(store.catalogue)
        return views


Views = Annotated[ViewRules, Depends(get_views)]
_EXAMPLE = {
    "photon energy, cold": {"value": {
        "name": "Cold, 8–10 keV", "columns": ["scan_id", "title", "start", "meta:photon_energy", "meta:sample_temperature"],
        "where": ["photon_energy:between:8:10:keV", "sample_temperature:lt:20:K"],
        "filters": {"proposal": "20240001", "range": "24", "q": "", "minRating": "1"},
        "sort": {"key": "meta:photon_energy", "order": "asc"}, "sharedWith": "20240001"}},
}
ViewId = Annotated[str, Path(max_length=64)]
Body_ = Annotated[ViewIn, Body(openapi_examples=_EXAMPLE)]


@router.get("/api/views", summary="Your saved views and those shared with your groups")
def list_views(user: Writer, views: Views) -> dict[str, Any]:
    data = views.views(user)
    return {"data": data, "count": len(data)}


@router.post("/api/views", status_code=201,
             summary=f"Save a view: columns, conditions, filters and sort (at most {MAX_VIEWS} a user; "
                     "a name taken is 409; sharedWith a proposal of your groups lets its group read it)")
def create_view(body: Body_, user: Writer, views: Views) -> dict[str, Any]:
    return views.create(body, user, datetime.now(UTC), uuid.uuid4().hex)


@router.get("/api/views/{view_id}", summary="One view you may read (yours or shared with your groups)")
def get_view(view_id: ViewId, user: Writer, views: Views) -> dict[str, Any]:
    return views.view(view_id, user)


@router.put("/api/views/{view_id}", summary="Change your view (only its owner does; others' are 403)")
def update_view(view_id: ViewId, body: Body_, user: Writer, views: Views) -> dict[str, Any]:
    return views.update(view_id, body, user, datetime.now(UTC))


@router.delete("/api/views/{view_id}", status_code=204, summary="Delete your view")
def delete_view(view_id: ViewId, user: Writer, views: Views) -> None:
    views.delete(view_id, user)

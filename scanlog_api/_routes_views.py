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
from ._views import MAX_VIEWS, DefaultIn, ViewDefault, ViewIn, ViewRules, ViewStore

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


def _refusal(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refusal"}}}}


_SIGNED_IN: dict[int | str, dict[str, Any]] = {401: _refusal("Not signed in, or the token is not valid")}
_ONE: dict[int | str, dict[str, Any]] = {
    **_SIGNED_IN, 404: _refusal("No such view that you may read (another's private view is not found either)")}
_CHANGE: dict[int | str, dict[str, Any]] = {**_ONE, 403: _refusal("Shared with you, but only its owner changes it"),
           409: _refusal("You have another view of that name")}
Body_ = Annotated[ViewIn, Body(openapi_examples=_EXAMPLE)]


@router.get("/api/views", responses=_SIGNED_IN, summary="Your saved views and those shared with your groups")
def list_views(user: Writer, views: Views) -> dict[str, Any]:
    data = views.views(user)
    return {"data": data, "count": len(data)}


@router.post("/api/views", status_code=201, responses={**_SIGNED_IN, 409: _refusal(
    f"A view of that name exists, or you have {MAX_VIEWS} already")},
             summary=f"Save a view: columns, conditions, filters and sort (at most {MAX_VIEWS} a user; "
                     "a name taken is 409; sharedWith a proposal of your groups lets its group read it)")
def create_view(body: Body_, user: Writer, views: Views) -> dict[str, Any]:
    return views.create(body, user, datetime.now(UTC), uuid.uuid4().hex)


# Before /api/views/{view_id}: "default" is this path's, never a view's id (ids are uuid hex).
@router.get("/api/views/default", responses=_SIGNED_IN, response_model=ViewDefault,
            summary="The view the table opens for you when its address asks for nothing else",
            description="`id` null: none chosen, the browser's own column layout opens. A chosen view since "
                        "deleted or no longer shared with you answers `view` null with the `problem` said "
                        "(the page then opens the browser's layout); the choice is kept until you change it.")
def get_default_view(user: Writer, views: Views) -> ViewDefault:
    return views.default(user)


@router.put("/api/views/default", responses=_ONE, response_model=ViewDefault,
            summary="Open this view by default, on any computer you sign in from (replaces your earlier default)",
            description="Any view you may read: yours, or one shared with a proposal of your groups. "
                        "A user has at most one default; setting one replaces the other in one write.")
def set_default_view(body: Annotated[DefaultIn, Body(openapi_examples={"a view": {"value": {
        "id": "3f2b9c0d4e5a46b7a8c9d0e1f2a3b4c5"}}})], user: Writer, views: Views) -> ViewDefault:
    return views.set_default(body, user)


@router.delete("/api/views/default", status_code=204, responses=_SIGNED_IN,
               summary="Open the browser's own layout by default again (your views are kept)")
def clear_default_view(user: Writer, views: Views) -> None:
    views.clear_default(user)


@router.get("/api/views/{view_id}", responses=_ONE, summary="One view you may read (yours or shared with your groups)")
def get_view(view_id: ViewId, user: Writer, views: Views) -> dict[str, Any]:
    return views.view(view_id, user)


@router.put("/api/views/{view_id}", responses=_CHANGE, summary="Change your view (only its owner does; others' are 403)")
def update_view(view_id: ViewId, body: Body_, user: Writer, views: Views) -> dict[str, Any]:
    return views.update(view_id, body, user, datetime.now(UTC))


@router.delete("/api/views/{view_id}", status_code=204, responses={**_ONE, 403: _CHANGE[403]}, summary="Delete your view")
def delete_view(view_id: ViewId, user: Writer, views: Views) -> None:
    views.delete(view_id, user)

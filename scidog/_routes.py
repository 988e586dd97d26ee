"""scidog's routes: a few lines each over the store, the Tango browser and the access rule."""

# No `from __future__ import annotations`: FastAPI reads the real annotations.

from datetime import UTC, datetime
from importlib.resources import files
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

from scizoo.core import BeamlineConfig, ConfigError, dump_beamline_config, parse_beamline_config
from scizoo.web import Authenticator, AuthError, TokenUser

from ._access import check_edit
from ._diff import diff
from ._errors import Invalid
from ._models import ConfigSave, NameIn, RestoreIn
from ._store import ConfigStore
from ._tango import TangoBrowser
from ._validate import problems

router = APIRouter()
MAX_YAML_BYTES = 256 * 1024


def _store(request: Request) -> ConfigStore:
    store: ConfigStore = request.app.state.store
    return store


def _browser(request: Request) -> TangoBrowser:
    browser: TangoBrowser = request.app.state.browser
    return browser


def _user(request: Request, authorization: Annotated[str | None, Header()] = None) -> TokenUser:
    auth: Authenticator = request.app.state.auth
    try:
        user = auth.user_for(authorization)
    except AuthError as err:
        raise HTTPException(401, str(err)) from err
    if user is None:
        raise HTTPException(401, "sign in to use scidog")
    return user


Store = Annotated[ConfigStore, Depends(_store)]
Browser = Annotated[TangoBrowser, Depends(_browser)]
User = Annotated[TokenUser, Depends(_user)]


def _editor(request: Request, user: TokenUser, beamline: str) -> None:
    check_edit(user, beamline, request.app.state.staff_groups)


def _checked(config: BeamlineConfig, beamline: str, browser: TangoBrowser) -> BeamlineConfig:
    if config.beamline != beamline:
        raise Invalid(f"this configuration is for {config.beamline!r}, not {beamline!r}",
                      [{"field": "beamline", "message": "the beamline is the one in the address"}])
    found = problems(config, browser)
    if found:
        raise Invalid("; ".join(p["message"] for p in found), found)
    return config


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/api/me", summary="Who the token belongs to")
def me(user: User) -> TokenUser:
    return user


@router.get("/api/beamlines", summary="Beamlines that have configurations")
def beamlines(user: User, store: Store) -> list[str]:
    return store.beamlines()


@router.get("/api/beamlines/{beamline}/configs", summary="A beamline's configurations (which one is active)")
def list_configs(beamline: str, user: User, store: Store) -> dict[str, Any]:
    data = store.summaries(beamline)
    return {"data": data, "count": len(data)}


@router.post("/api/beamlines/{beamline}/configs", status_code=201, summary="Create a configuration")
def create(request: Request, beamline: str, config: BeamlineConfig, user: User, store: Store,
           browser: Browser) -> BeamlineConfig:
    _editor(request, user, beamline)
    return store.create(_checked(config, beamline, browser), user.user, _now())


@router.get("/api/beamlines/{beamline}/configs/{name}", summary="One configuration at its current revision")
def get(beamline: str, name: str, user: User, store: Store) -> BeamlineConfig:
    return store.get(beamline, name)


@router.put("/api/beamlines/{beamline}/configs/{name}", summary="Save a new revision (409 if made from a stale one)")
def update(request: Request, beamline: str, name: str, body: ConfigSave, user: User, store: Store,
           browser: Browser) -> BeamlineConfig:
    _editor(request, user, beamline)
    return store.update(beamline, name, _checked(body.config, beamline, browser), body.base_revision, user.user,
                        _now())


@router.post("/api/beamlines/{beamline}/configs/{name}/duplicate", status_code=201, summary="Copy under a new name")
def duplicate(request: Request, beamline: str, name: str, body: NameIn, user: User, store: Store) -> BeamlineConfig:
    _editor(request, user, beamline)
    return store.duplicate(beamline, name, body.name, user.user, _now())


@router.delete("/api/beamlines/{beamline}/configs/{name}", status_code=204, summary="Delete (not the active one)")
def delete(request: Request, beamline: str, name: str, user: User, store: Store) -> None:
    _editor(request, user, beamline)
    store.delete(beamline, name)


@router.get("/api/beamlines/{beamline}/active", summary="The configuration scans are captured with")
def active(beamline: str, user: User, store: Store) -> BeamlineConfig:
    return store.active(beamline)


@router.put("/api/beamlines/{beamline}/active", summary="Make a configuration the active one")
def set_active(request: Request, beamline: str, body: NameIn, user: User, store: Store) -> BeamlineConfig:
    _editor(request, user, beamline)
    store.set_active(beamline, body.name, user.user, _now())
    return store.active(beamline)


@router.get("/api/beamlines/{beamline}/configs/{name}/revisions", summary="Every revision: who, when, what")
def revisions(beamline: str, name: str, user: User, store: Store) -> dict[str, Any]:
    data = store.revisions(beamline, name)
    return {"data": data, "count": len(data)}


@router.get("/api/beamlines/{beamline}/configs/{name}/revisions/{revision}", summary="One revision")
def revision(beamline: str, name: str, revision: int, user: User, store: Store) -> BeamlineConfig:
    return store.revision(beamline, name, revision)


@router.get("/api/beamlines/{beamline}/configs/{name}/diff", summary="What changed between two revisions")
def compare(beamline: str, name: str, user: User, store: Store, old: Annotated[int, Query(alias="from", ge=1)],
            new: Annotated[int, Query(alias="to", ge=1)]) -> dict[str, Any]:
    return diff(store.revision(beamline, name, old), store.revision(beamline, name, new))


@router.post("/api/beamlines/{beamline}/configs/{name}/restore", summary="Restore a revision as the next one")
def restore(request: Request, beamline: str, name: str, body: RestoreIn, user: User, store: Store) -> BeamlineConfig:
    _editor(request, user, beamline)
    return store.restore(beamline, name, body.revision, body.base_revision, user.user, _now())


@router.get("/api/beamlines/{beamline}/configs/{name}/export", response_class=PlainTextResponse,
            summary="The configuration as YAML (the files under config/ are this format)")
def export(beamline: str, name: str, user: User, store: Store) -> str:
    return dump_beamline_config(store.get(beamline, name))


@router.post("/api/import", status_code=201, summary="Import a YAML configuration (created, or a new revision)")
def import_yaml(request: Request, user: User, store: Store, browser: Browser,
                text: Annotated[str, Body(media_type="application/yaml", max_length=MAX_YAML_BYTES)]) -> BeamlineConfig:
    try:
        config = parse_beamline_config(text, "the uploaded YAML")
    except ConfigError as err:
        raise Invalid(str(err)) from err
    _editor(request, user, config.beamline)
    return store.import_config(_checked(config, config.beamline, browser), user.user, _now())


@router.get("/api/tango/devices", summary="Devices whose name contains the text (type-ahead)")
def devices(user: User, browser: Browser, q: Annotated[str, Query(max_length=100)] = "",
            limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[str]:
    return browser.devices(q, limit)


@router.get("/api/tango/attributes", summary="A running device's attributes: type, format, unit, enum labels")
def attributes(user: User, browser: Browser, device: Annotated[str, Query(max_length=200)]) -> list[dict[str, Any]]:
    return browser.attributes(device)


@router.get("/api/tango/value", summary="An attribute's current value (a live preview)")
def value(user: User, browser: Browser, device: Annotated[str, Query(max_length=200)],
          attribute: Annotated[str, Query(max_length=200)]) -> dict[str, Any]:
    return browser.value(device, attribute)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index() -> str:
    return files("scidog").joinpath("static/index.html").read_text(encoding="utf-8")

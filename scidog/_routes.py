"""scidog's routes: a few lines each over the store, the Tango browser and the access rule."""

# No `from __future__ import annotations`: FastAPI reads the real annotations.

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib.resources import files
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from scizoo.core import BeamlineConfig, dump_beamline_config
from scizoo.web import MAX_JSON_BYTES, AuthError, TokenUser, app_state

from ._access import check_edit, check_staff
from ._bodies import MAX_YAML_BYTES, YAML_BODY, json_body, parse_json, parse_yaml_config
from ._diff import diff
from ._errors import Invalid, NotFound
from ._models import ConfigSave, NameIn, RestoreIn
from ._ports import Configs, ControlSystem
from ._services import Services
from ._validate import problems

router = APIRouter()
M = TypeVar("M", bound=BaseModel)
#: The editor's page and its files, served by name only.
STATIC = {"editor.js": "text/javascript", "editor.css": "text/css"}


def needs_sign_in(method: str, path: str) -> bool:
    """Every API request (reads too): checked before a body is read (scizoo.web's RequestLimits)."""
    return path.startswith("/api/")


def body_limit(method: str, path: str) -> int:
    """What a request may send, checked before it is read: a YAML import, or a JSON body."""
    return MAX_YAML_BYTES if path == "/api/import" else MAX_JSON_BYTES


def services(request: Request) -> Services:
    """The app's typed state (see ``_services``)."""
    return app_state(request, Services)


def _store(request: Request) -> Configs:
    return services(request).store


def _browser(request: Request) -> ControlSystem:
    return services(request).browser


def _user(request: Request, authorization: Annotated[str | None, Header()] = None) -> TokenUser:
    known: TokenUser | None = getattr(request.state, "user", None)  # checked before the body was read
    if known is not None:
        return known
    try:
        user = services(request).auth.user_for(authorization)
    except AuthError as err:
        raise HTTPException(401, str(err)) from err
    if user is None:
        raise HTTPException(401, "sign in to use scidog")
    return user


Store = Annotated[Configs, Depends(_store)]
Browser = Annotated[ControlSystem, Depends(_browser)]
User = Annotated[TokenUser, Depends(_user)]


def _editor(request: Request, user: User, beamline: str) -> TokenUser:
    """The beamline's staff or an admin (the beamline from the address): checked before any body is read."""
    check_edit(user, beamline, services(request).staff_groups)
    return user


def _staff(request: Request, user: User) -> TokenUser:
    """Staff of some beamline or an admin: who may browse the control system or import at all."""
    check_staff(user, services(request).staff_groups, "browse the control system and import configurations")
    return user


Editor = Annotated[TokenUser, Depends(_editor)]
Staff = Annotated[TokenUser, Depends(_staff)]


def _body(model: type[M], what: str) -> Callable[..., Awaitable[M]]:
    """A dependency reading the body as ``model``, after the beamline's access check (a dependency
    of this one, so it runs first): a refused caller's body is never parsed."""
    async def read(request: Request, editor: Editor) -> M:
        return parse_json(await request.body(), model, what)
    return read


def _checked(config: BeamlineConfig, beamline: str, browser: ControlSystem) -> BeamlineConfig:
    if config.beamline != beamline:
        raise Invalid(f"this configuration is for {config.beamline!r}, not {beamline!r}",
                      [{"field": "beamline", "message": "the beamline is the one in the address"}])
    found = problems(config, browser)
    if found:
        raise Invalid("; ".join(p["message"] for p in found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5
                                                                     else ""), found)
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


SaveBody = Annotated[ConfigSave, Depends(_body(ConfigSave, "save (config, base_revision)"))]
NameBody = Annotated[NameIn, Depends(_body(NameIn, "name"))]
RestoreBody = Annotated[RestoreIn, Depends(_body(RestoreIn, "restore (revision, base_revision)"))]
ConfigBody = Annotated[BeamlineConfig, Depends(_body(BeamlineConfig, "configuration"))]


@router.post("/api/beamlines/{beamline}/configs", status_code=201, summary="Create a configuration",
             openapi_extra=json_body(BeamlineConfig))
def create(beamline: str, config: ConfigBody, user: Editor, store: Store, browser: Browser) -> BeamlineConfig:
    return store.create(_checked(config, beamline, browser), user.user, _now())


@router.get("/api/beamlines/{beamline}/configs/{name}", summary="One configuration at its current revision")
def get(beamline: str, name: str, user: User, store: Store) -> BeamlineConfig:
    return store.get(beamline, name)


@router.put("/api/beamlines/{beamline}/configs/{name}", summary="Save a new revision (409 if made from a stale one)",
            openapi_extra=json_body(ConfigSave))
def update(beamline: str, name: str, body: SaveBody, user: Editor, store: Store, browser: Browser) -> BeamlineConfig:
    return store.update(beamline, name, _checked(body.config, beamline, browser), body.base_revision, user.user,
                        _now())


@router.post("/api/beamlines/{beamline}/configs/{name}/duplicate", status_code=201, summary="Copy under a new name",
             openapi_extra=json_body(NameIn))
def duplicate(beamline: str, name: str, body: NameBody, user: Editor, store: Store) -> BeamlineConfig:
    return store.duplicate(beamline, name, body.name, user.user, _now())


@router.delete("/api/beamlines/{beamline}/configs/{name}", status_code=204, summary="Delete (not the active one)")
def delete(beamline: str, name: str, user: Editor, store: Store) -> None:
    store.delete(beamline, name)


@router.get("/api/beamlines/{beamline}/active", summary="The configuration scans are captured with")
def active(beamline: str, user: User, store: Store) -> BeamlineConfig:
    return store.active(beamline)


@router.put("/api/beamlines/{beamline}/active", summary="Make a configuration the active one",
            openapi_extra=json_body(NameIn))
def set_active(beamline: str, body: NameBody, user: Editor, store: Store) -> BeamlineConfig:
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


@router.post("/api/beamlines/{beamline}/configs/{name}/restore", summary="Restore a revision as the next one",
             openapi_extra=json_body(RestoreIn))
def restore(beamline: str, name: str, body: RestoreBody, user: Editor, store: Store) -> BeamlineConfig:
    return store.restore(beamline, name, body.revision, body.base_revision, user.user, _now())


@router.get("/api/beamlines/{beamline}/configs/{name}/export", response_class=PlainTextResponse,
            summary="The configuration as YAML (the files under config/ are this format)")
def export(beamline: str, name: str, user: User, store: Store) -> str:
    return dump_beamline_config(store.get(beamline, name))


async def _uploaded(request: Request, staff: Staff) -> BeamlineConfig:
    """The uploaded YAML, read once the caller is known to be some beamline's staff (the beamline
    it is for is inside it: checked again by the route). Parsed in a worker thread: PyYAML is
    pure Python, and 256 KiB of it must not hold up the event loop."""
    return await run_in_threadpool(parse_yaml_config, await request.body())


@router.post("/api/import", status_code=201, summary="Import a YAML configuration (created, or a new revision)",
             openapi_extra=YAML_BODY)
def import_yaml(request: Request, config: Annotated[BeamlineConfig, Depends(_uploaded)], user: Staff, store: Store,
                browser: Browser) -> BeamlineConfig:
    check_edit(user, config.beamline, services(request).staff_groups)
    return store.import_config(_checked(config, config.beamline, browser), user.user, _now())


@router.get("/api/tango/devices", summary="Devices whose name contains the text (type-ahead; beamline staff)")
def devices(user: Staff, browser: Browser, q: Annotated[str, Query(max_length=100)] = "",
            limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[str]:
    return browser.devices(q, limit)


@router.get("/api/tango/attributes",
            summary="A device's attributes: type, format, unit, enum labels (a device of the configured database; "
                    "beamline staff)")
def attributes(user: Staff, browser: Browser, device: Annotated[str, Query(max_length=200)]) -> list[dict[str, Any]]:
    return browser.attributes(device)


@router.get("/api/tango/value", summary="An attribute's current value (a live preview; beamline staff)")
def value(user: Staff, browser: Browser, device: Annotated[str, Query(max_length=200)],
          attribute: Annotated[str, Query(max_length=200)]) -> dict[str, Any]:
    return browser.value(device, attribute)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index() -> str:
    return files("scidog").joinpath("static/index.html").read_text(encoding="utf-8")


@router.get("/static/{name}", include_in_schema=False)
def static(name: str) -> Response:
    """The editor's script and style sheet (separate files, so a Content-Security-Policy can forbid inline code)."""
    if name not in STATIC:
        raise NotFound("no such file")
    return Response(files("scidog").joinpath("static", name).read_bytes(), media_type=STATIC[name],
                    headers={"Cache-Control": "no-cache"})

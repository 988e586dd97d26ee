"""The scidog app: configurations per beamline, with revisions, over the Tango database."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from pymongo.errors import PyMongoError

from scizoo.core import BeamlineConfig
from scizoo.web import (
    Authenticator,
    RequestLimits,
    StartupBuild,
    add_api_docs,
    add_ops_routes,
    add_security_headers,
    document_refusals,
    refuse_unparsed_by_field,
)

from ._errors import ScidogError
from ._models import ConfigSave, NameIn, RestoreIn
from ._ports import Configs, ControlSystem
from ._routes import body_limit, needs_sign_in, router
from ._services import Services
from ._settings import ScidogSettings
from ._store import ConfigStore
from ._tango import TangoBrowser, TangoUnavailable

logger = logging.getLogger(__name__)


def _indexes(store: Configs) -> None:
    try:
        store.ensure_indexes()
    except PyMongoError as err:
        logger.warning("could not create indexes at start (%s)", type(err).__name__)


def _document_bodies(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """Name the request bodies in the OpenAPI schema: the routes read them themselves (after the
    access check), so FastAPI does not see them."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # made once, then kept by the app
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        if not all(m.__name__ in components for m in models):
            _, defs = models_json_schema([(m, "validation") for m in models],
                                         ref_template="#/components/schemas/{model}")
            for name, definition in defs.get("$defs", {}).items():
                components.setdefault(name, definition)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: ScidogSettings, *, store: Configs | None = None,
               browser: ControlSystem | None = None) -> FastAPI:
    """The API and the editor, over MongoDB and the Tango database of ``settings``, or over a
    ``store`` and ``browser`` given (e.g. the in-memory ones of :mod:`scidog.testing`)."""
    if store is None:
        store = ConfigStore(settings.mongo_uri, settings.database, connect_timeout_s=settings.connect_timeout_s)
    if browser is None:
        browser = TangoBrowser(settings.device_addresses, timeout_s=settings.device_timeout_s,
                               use_database=settings.use_tango_database, tango_host=settings.tango_host,
                               proxy_cache_size=settings.proxy_cache_size)
    services = Services(store=store, browser=browser, auth=Authenticator(settings.tokens, settings.oidc),
                        staff_groups=settings.staff_groups)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        startup = StartupBuild("scidog", services.store.ensure_collections, lambda: _indexes(services.store),
                               create_wait_s=settings.connect_timeout_s)
        await startup.start()
        yield
        startup.stop()
        services.store.close()

    app = FastAPI(title="scidog", description="What every scan records, per beamline, with revisions",
                  lifespan=lifespan, docs_url=None, redoc_url=None)  # /docs from vendored files: add_api_docs
    add_api_docs(app)
    app.state = services

    @app.exception_handler(ScidogError)
    async def scidog_error(request: Request, exc: ScidogError) -> JSONResponse:
        body: dict[str, object] = {"detail": str(exc)}
        if exc.problems:
            body["problems"] = exc.problems
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(TangoUnavailable)
    async def tango_error(request: Request, exc: TangoUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=502)

    refuse_unparsed_by_field(app)
    app.include_router(router)
    document_refusals(app)
    _document_bodies(app, [BeamlineConfig, ConfigSave, NameIn, RestoreIn])
    add_ops_routes(app, service="scidog", mongo_uri=settings.mongo_uri.get_secret_value(), setting="SCIDOG_MONGO_URI")
    # Every API request signed in, and every body bounded, before a byte of the body is read.
    app.add_middleware(RequestLimits, auth=services.auth, needs_sign_in=needs_sign_in, body_limit=body_limit)
    add_security_headers(app)  # outermost: on every answer, also what a middleware answers itself
    return app

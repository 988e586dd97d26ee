"""The scidog app: configurations per beamline, with revisions, over the Tango database."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pymongo.errors import PyMongoError

from scizoo.web import Authenticator, add_ops_routes, add_security_headers, document_refusals

from ._errors import ScidogError
from ._routes import router
from ._settings import ScidogSettings
from ._store import ConfigStore
from ._tango import TangoBrowser, TangoUnavailable

logger = logging.getLogger(__name__)


def _indexes(store: ConfigStore) -> None:
    try:
        store.ensure_indexes()
    except PyMongoError as err:
        logger.warning("could not create indexes at start (%s)", type(err).__name__)


def create_app(settings: ScidogSettings) -> FastAPI:
    store = ConfigStore(settings.mongo_uri, settings.database, connect_timeout_s=settings.connect_timeout_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        builder = threading.Thread(target=_indexes, args=(store,), name="scidog-indexes", daemon=True)
        builder.start()
        yield
        builder.join(5)
        store.close()

    app = FastAPI(title="scidog", description="What every scan records, per beamline, with revisions",
                  lifespan=lifespan)
    app.state.store = store
    app.state.auth = Authenticator(settings.tokens, settings.oidc)
    app.state.browser = TangoBrowser(settings.device_addresses, timeout_s=settings.device_timeout_s,
                                     use_database=settings.use_tango_database, tango_host=settings.tango_host)
    app.state.staff_groups = dict(settings.staff_groups)

    @app.exception_handler(ScidogError)
    async def scidog_error(request: Request, exc: ScidogError) -> JSONResponse:
        body: dict[str, object] = {"detail": str(exc)}
        if exc.problems:
            body["problems"] = exc.problems
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(TangoUnavailable)
    async def tango_error(request: Request, exc: TangoUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=502)

    app.include_router(router)
    document_refusals(app)
    add_ops_routes(app, service="scidog", mongo_uri=settings.mongo_uri.get_secret_value(), setting="SCIDOG_MONGO_URI")
    add_security_headers(app)  # outermost: on every answer, also what a middleware answers itself
    return app

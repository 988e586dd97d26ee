"""The app factory: the store, the authenticator, the live feed and the routes, wired once.

Reads follow SciCat's access rule (ownerGroup / accessGroups / isPublished); every write
needs an authenticated user.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pymongo.errors import PyMongoError

from scizoo.core import PUBLISHED_DATA_COLLECTION
from scizoo.web import Authenticator, add_api_docs, add_ops_routes, add_security_headers, document_refusals

from ._elog import ElogClient
from ._errors import ScanlogError
from ._limits import RequestLimits
from ._oai import OaiProvider
from ._publish import DataCite, Publisher
from ._routes import router
from ._routes_publish import router as publish_router
from ._settings import ScanlogSettings
from ._store import ScanStore
from ._tally import Tally

logger = logging.getLogger(__name__)


def _build_indexes(store: ScanStore, ready: threading.Event) -> None:
    try:
        store.ensure_indexes()
        logger.info("scanlog indexes are ready")
    except PyMongoError as err:
        # One line, not pymongo's topology dump: the table serves without them, only slower.
        logger.warning("could not create indexes at start (%s); the table serves without them",
                       type(err).__name__)
    finally:
        ready.set()


def create_app(settings: ScanlogSettings) -> FastAPI:
    """The API and page, with one MongoClient opened lazily and closed with the app."""
    store = ScanStore(settings.mongo_uri, settings.database, connect_timeout_s=settings.connect_timeout_s,
                      staff_comment_groups=settings.staff_comment_groups,
                      write_concern=(settings.write_concern_w, settings.write_concern_j),
                      max_export_rows=settings.max_export_rows)
    if settings.tally:
        store.tally = Tally(lambda: store.datasets, answer_from=settings.tally_from)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Built in the background: on a large existing collection the first build takes
        # minutes, and the table must serve meanwhile (slower until it is done).
        builder = threading.Thread(target=_build_indexes, args=(store, app.state.indexes_ready),
                                   name="scanlog-indexes", daemon=True)
        builder.start()
        if store.tally is not None:
            store.tally.start()
        yield
        if app.state.feed is not None:
            app.state.feed.close()
        if store.tally is not None:
            store.tally.close()
        builder.join(5)  # a build still running fails cleanly on the closed client
        store.close()

    app = FastAPI(title="scanlog", description="Live scan table over a SciCat catalogue", lifespan=lifespan,
                  docs_url=None, redoc_url=None)  # /docs from vendored files: add_api_docs
    add_api_docs(app)
    app.state.store = store
    app.state.auth = auth = Authenticator(settings.tokens, settings.oidc)
    app.state.elog = ElogClient(settings.elog_url, settings.elog_token,
                                forward_user_token=settings.elog_forward_user_token)
    app.state.feed = None
    app.state.feed_lock = threading.Lock()
    app.state.indexes_ready = threading.Event()
    app.state.max_anonymous_streams = settings.max_anonymous_streams

    @app.exception_handler(ScanlogError)
    async def scanlog_error(request: Request, exc: ScanlogError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    datacite = DataCite(settings.datacite_url, settings.datacite_username, settings.datacite_password,
                        settings.doi_prefix, settings.datacite_timeout_s)
    app.state.publisher = Publisher(store, datacite, doi_prefix=settings.doi_prefix,
                                    public_url=settings.public_url)
    app.state.download_url_pattern = settings.download_url_pattern
    app.state.scicat_url_pattern = settings.scicat_url_pattern
    host = urlsplit(settings.public_url).hostname or "scizoo"
    app.state.oai = OaiProvider(
        f"{settings.public_url.rstrip('/')}/oai", settings.publisher or "scizoo",
        # RFC 2142's mailbox for a web service, until the operators name theirs.
        settings.admin_email or f"webmaster@{host}",
        collection=lambda: store.db()[PUBLISHED_DATA_COLLECTION], domain=host, datacentre=settings.datacite_username)

    app.include_router(router)
    app.include_router(publish_router)
    document_refusals(app)
    add_ops_routes(app, service="scanlog", mongo_uri=settings.mongo_uri.get_secret_value(), setting="SCANLOG_MONGO_URI")
    app.add_middleware(RequestLimits, auth=auth)
    add_security_headers(app)  # outermost: also on what RequestLimits answers itself
    return app

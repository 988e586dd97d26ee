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

from scizoo.core import DOWNLOAD_TICKET_COLLECTION, ORIG_DATABLOCK_COLLECTION, to_si
from scizoo.web import (
    Authenticator,
    StartupBuild,
    add_api_docs,
    add_ops_routes,
    add_security_headers,
    document_refusals,
    refuse_unparsed_by_field,
)

from ._downloads import DataRoots, Downloads
from ._elog import ElogClient
from ._errors import ScanlogError
from ._limits import RequestLimits
from ._oai import OaiProvider
from ._ports import ScanJobs, Scans
from ._publications import PublicationStore
from ._publish import DataCite, Publisher
from ._reductions import Reductions
from ._release import release_loop
from ._routes import router
from ._routes_downloads import router as downloads_router
from ._routes_panosc import router as panosc_router
from ._routes_previews import router as previews_router
from ._routes_publish import router as publish_router
from ._routes_reductions import router as reductions_router
from ._routes_views import router as views_router
from ._services import Services
from ._settings import ScanlogSettings
from ._store import ScanStore
from ._tally import Tally
from ._tickets import Tickets, mask_tickets_in_access_log

logger = logging.getLogger(__name__)


def _build_indexes(store: Scans, ready: threading.Event) -> None:
    try:
        store.ensure_indexes()
        logger.info("scanlog indexes are ready")
    except PyMongoError as err:
        # One line, not pymongo's topology dump: the table serves without them, only slower.
        logger.warning("could not create indexes at start (%s); the table serves without them",
                       type(err).__name__)
    finally:
        ready.set()
    # pint's unit registry takes half a second to load: loaded here, not by the first request
    # with a unit (measured: the first round of bench_search's page with two unit conditions).
    to_si(1.0, "eV")


def _services(settings: ScanlogSettings, auth: Authenticator, elog: ElogClient) -> Services:
    """The catalogue's stores, the tally, publishing and OAI-PMH over one lazily opened client."""
    store = ScanStore(settings.mongo_uri, settings.database, connect_timeout_s=settings.connect_timeout_s,
                      staff_comment_groups=settings.staff_comment_groups,
                      write_concern=(settings.write_concern_w, settings.write_concern_j),
                      max_export_rows=settings.max_export_rows)
    if settings.tally:
        store.tally = Tally(lambda: store.datasets, answer_from=settings.tally_from)
    publications = PublicationStore(store.catalogue)
    datacite = DataCite(settings.datacite_url, settings.datacite_username, settings.datacite_password,
                        settings.doi_prefix, settings.datacite_timeout_s)
    host = urlsplit(settings.public_url).hostname or "scizoo"
    oai = OaiProvider(
        f"{settings.public_url.rstrip('/')}/oai", settings.publisher or "scizoo",
        # RFC 2142's mailbox for a web service, until the operators name theirs.
        settings.admin_email or f"webmaster@{host}",
        collection=publications.collection, domain=host, datacentre=settings.datacite_username)
    return Services(
        store=store, reductions=Reductions(store, rule_staff_groups=settings.rule_staff_groups),
        auth=auth, elog=elog, tally=store.tally, oai=oai,
        publisher=Publisher(store, publications, datacite, doi_prefix=settings.doi_prefix,
                            public_url=settings.public_url, release_policy_years=settings.release_policy_years),
        feed_source=lambda: store.datasets, max_anonymous_streams=settings.max_anonymous_streams,
        max_streams_per_user=settings.max_streams_per_user,
        download_url_pattern=settings.download_url_pattern, scicat_url_pattern=settings.scicat_url_pattern,
        downloads=Downloads(store, lambda pids: store.catalogue.collection(ORIG_DATABLOCK_COLLECTION).find(
            {"datasetId": {"$in": pids}}), roots=DataRoots.of(settings.data_roots),
            max_archive_bytes=settings.max_archive_bytes, transfer_pattern=settings.download_url_pattern,
            tickets=Tickets(lambda: store.catalogue.collection(DOWNLOAD_TICKET_COLLECTION))),
        notebook_url_pattern=settings.notebook_url_pattern)


def create_app(settings: ScanlogSettings, *, store: Scans | None = None, reductions: ScanJobs | None = None) -> FastAPI:
    """The API and page, over the catalogue (one MongoClient opened lazily and closed with the app).

    Or over a ``store`` (and ``reductions``) given, e.g. the in-memory ones of
    :mod:`scanlog_api.testing`: then the routes of the scans, their annotations and
    reductions serve from them, and those that need the catalogue itself (publishing,
    OAI-PMH, the live feed) answer that they are not configured.
    """
    auth = Authenticator(settings.tokens, settings.oidc)
    elog = ElogClient(settings.elog_url, settings.elog_token, forward_user_token=settings.elog_forward_user_token)
    if store is None:
        services = _services(settings, auth, elog)
    elif reductions is None:
        raise ValueError("an app over a given store needs its reductions too")
    else:
        services = Services(store=store, reductions=reductions, auth=auth, elog=elog,
                            max_anonymous_streams=settings.max_anonymous_streams,
                            max_streams_per_user=settings.max_streams_per_user,
                            download_url_pattern=settings.download_url_pattern,
                            scicat_url_pattern=settings.scicat_url_pattern,
                            notebook_url_pattern=settings.notebook_url_pattern)

    # Ended embargoes and the release policy, in one replica at a time (_release).
    releases = release_loop(services.publisher.releaser, settings.release_every_s) if services.publisher else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The indexes are built in the background: on a large existing collection the first build
        # takes minutes, and the table must serve meanwhile (slower until it is done).
        startup = StartupBuild("scanlog", services.store.ensure_collections,
                               lambda: _build_indexes(services.store, services.indexes_ready),
                               create_wait_s=settings.connect_timeout_s)
        await startup.start()
        if services.tally is not None:
            services.tally.start()
        if releases is not None:
            releases.start()
        yield
        if releases is not None:
            releases.close()
        if services.feed is not None:
            services.feed.close()
        if services.tally is not None:
            services.tally.close()
        startup.stop()
        services.store.close()

    app = FastAPI(title="scanlog", description="Live scan table over a SciCat catalogue", lifespan=lifespan,
                  docs_url=None, redoc_url=None)  # /docs from vendored files: add_api_docs
    add_api_docs(app)
    app.state = services

    @app.exception_handler(ScanlogError)
    async def scanlog_error(request: Request, exc: ScanlogError) -> JSONResponse:
        body: dict[str, object] = {"detail": str(exc)}
        if exc.problems:  # each next to its field on the page: [{"field": "rules.2.name", "message": ...}]
            body["problems"] = exc.problems
        return JSONResponse(body, status_code=exc.status)

    app.include_router(router)
    app.include_router(publish_router)
    app.include_router(views_router)
    app.include_router(reductions_router)
    app.include_router(previews_router)  # reduction previews of the rules page's pipeline view
    app.include_router(downloads_router)
    app.include_router(panosc_router)  # the PaNOSC search API, published data only (_routes_panosc)
    document_refusals(app)
    refuse_unparsed_by_field(app)
    add_ops_routes(app, service="scanlog", mongo_uri=settings.mongo_uri.get_secret_value(), setting="SCANLOG_MONGO_URI")
    app.add_middleware(RequestLimits, auth=auth)
    add_security_headers(app)  # outermost: also on what RequestLimits answers itself
    mask_tickets_in_access_log()  # a download ticket's URL: only its first characters in the access log
    return app

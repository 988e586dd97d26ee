"""The app's state, typed: every service the routes use, built once by the app factory.

It *is* ``app.state`` (a Starlette ``State`` with declared attributes), so the routes'
dependencies (``_deps``) read typed fields rather than an untyped bag, and an app can be
built over other parts (the in-memory store of :mod:`scanlog_api.testing`) by handing
the factory a store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from pymongo.collection import Collection
from starlette.datastructures import State

from scizoo.web import Authenticator

from ._downloads import Downloads
from ._elog import ElogClient
from ._live import LiveFeed
from ._oai import OaiProvider
from ._ports import ScanJobs, Scans
from ._publish import Publisher
from ._tally import Tally


class Services(State):
    """What the scan table's routes use; set as ``app.state`` by :func:`~scanlog_api.create_app`."""

    store: Scans
    reductions: ScanJobs
    publisher: Publisher | None
    oai: OaiProvider | None
    auth: Authenticator
    elog: ElogClient
    tally: Tally | None
    #: The Dataset collection whose change stream the live feed follows (None: no live feed).
    feed_source: Callable[[], Collection[dict[str, Any]]] | None
    #: The one live feed, made on the first subscription (under ``feed_lock``).
    feed: LiveFeed | None
    feed_lock: threading.Lock
    indexes_ready: threading.Event
    max_anonymous_streams: int
    max_streams_per_user: int
    download_url_pattern: str
    scicat_url_pattern: str
    #: The facility's JupyterHub link of a dataset (issue 22; validated in the settings); "": none.
    notebook_url_pattern: str
    #: Data files of datasets, over the catalogue's datablocks (None: no catalogue, no downloads).
    downloads: Downloads | None

    def __init__(self, *, store: Scans, reductions: ScanJobs, auth: Authenticator, elog: ElogClient,
                 publisher: Publisher | None = None, oai: OaiProvider | None = None, tally: Tally | None = None,
                 feed_source: Callable[[], Collection[dict[str, Any]]] | None = None,
                 max_anonymous_streams: int = 50, max_streams_per_user: int = 20, download_url_pattern: str = "",
                 scicat_url_pattern: str = "", downloads: Downloads | None = None,
                 notebook_url_pattern: str = "") -> None:
        super().__init__({
            "store": store, "reductions": reductions, "publisher": publisher, "oai": oai, "auth": auth,
            "elog": elog, "tally": tally, "feed_source": feed_source, "feed": None, "feed_lock": threading.Lock(),
            "indexes_ready": threading.Event(), "max_anonymous_streams": max_anonymous_streams,
            "max_streams_per_user": max_streams_per_user,
            "download_url_pattern": download_url_pattern, "scicat_url_pattern": scicat_url_pattern,
            "downloads": downloads, "notebook_url_pattern": notebook_url_pattern})

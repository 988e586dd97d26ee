"""A web service's start-up build: the catalogue's collections before the app serves, its
indexes beside it."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

#: How long a stopping app waits for its start-up build before closing its client.
BUILD_WAIT_S = 60.0


class StartupBuild:
    """One thread that runs ``create`` (the collections: a listCollections and a create each
    missing one) and then ``build`` (the indexes and the migration: minutes on a large catalogue).

    The app serves once the collections exist, or once ``create_wait_s`` has passed (a store
    away at start: it serves and says so at its health routes), so that no request's write
    creates a collection (why: :func:`scizoo.core.ensure_collections`).

    Stopping waits (at most :data:`BUILD_WAIT_S`) for the build before the app closes its client:
    one left running outlived its app in a whole-suite run and met the next test dropping that
    test's database, another SecantusDB deadlock. One still running after that fails cleanly on
    the closed client.
    """

    def __init__(self, service: str, create: Callable[[], None], build: Callable[[], None], *,
                 create_wait_s: float) -> None:
        self._service = service
        self._create = create
        self._build = build
        self._create_wait_s = create_wait_s
        self._created = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{service}-indexes", daemon=True)

    def _run(self) -> None:
        try:
            self._create()
        except Exception as err:  # noqa: BLE001 - any failure: said in one line, the build still tried
            logger.warning("%s could not create the catalogue's collections at start (%s)",
                           self._service, type(err).__name__)
        finally:
            self._created.set()
        self._build()

    async def start(self) -> None:
        """Start the thread; return once the collections exist (or the wait is over)."""
        self._thread.start()
        await asyncio.to_thread(self._created.wait, self._create_wait_s)

    def stop(self) -> None:
        self._thread.join(BUILD_WAIT_S)

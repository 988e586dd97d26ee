"""Run the scanlog app with uvicorn in a thread (the demo, the tests, the benchmarks)."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from scizoo.core import ServiceStartError

from ._app import create_app
from ._settings import ScanlogSettings

#: Live streams never end by themselves: at shutdown they get this long, then are closed
#: (the page reconnects and re-reads the table).
SHUTDOWN_GRACE_S = 3


class ScanlogServer:
    """``with ScanlogServer(settings) as server: server.url``; port 0 picks a free port."""

    def __init__(self, settings: ScanlogSettings, *, host: str = "127.0.0.1", port: int = 0,
                 grace_s: int = SHUTDOWN_GRACE_S, mounts: dict[str, Any] | None = None) -> None:
        self.settings = settings
        #: path -> ASGI app served beside the table (the demo mounts scidog's editor at /scidog)
        self.mounts = dict(mounts or {})
        self.host = host
        self.port = port
        self.grace_s = grace_s
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> ScanlogServer:
        app = create_app(self.settings)
        for path, sub in self.mounts.items():
            app.mount(path, sub)
        config = uvicorn.Config(app, host=self.host, port=self.port, log_level="warning",
                                timeout_graceful_shutdown=self.grace_s)
        server = self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=server.run, name="scanlog-api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise ServiceStartError(service="scanlog", reason=f"nothing listened on {self.url} within {timeout:g} s")
            time.sleep(0.05)
        # With port 0 the system chose one: read it from the listening socket.
        self.port = int(server.servers[0].sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(self.grace_s + 10)
        self._server = self._thread = None

    def __enter__(self) -> ScanlogServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

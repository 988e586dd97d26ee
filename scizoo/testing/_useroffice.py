"""A small HTTP user office, answering proposal look-ups as a facility's would.

For the demo and the tests (no real user office is reachable here), and for sites that
want to try scicow before wiring their own: ``GET /proposals/<id>`` with a bearer token.
"""

from __future__ import annotations

import hmac
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet request handler that answers JSON (the stand-in services here and in the tests)."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class UserOffice:
    """Serves ``proposals`` (id -> JSON object) on a loopback port in a thread."""

    def __init__(self, proposals: dict[str, dict[str, Any]], token: str | None = None, port: int = 0) -> None:
        self.proposals = dict(proposals)
        self.token = token
        self.requests = 0
        office = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                office.requests += 1
                if office.token is not None:
                    sent = self.headers.get("Authorization", "")
                    if not hmac.compare_digest(sent, f"Bearer {office.token}"):
                        self.reply(HTTPStatus.UNAUTHORIZED, {"error": "missing or wrong token"})
                        return
                prefix = "/proposals/"
                if not self.path.startswith(prefix):
                    self.reply(HTTPStatus.NOT_FOUND, {"error": "no such endpoint"})
                    return
                found = office.proposals.get(unquote(self.path[len(prefix) :]))
                if found is None:
                    self.reply(HTTPStatus.NOT_FOUND, {"error": "no such proposal"})
                    return
                self.reply(HTTPStatus.OK, found)

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="user-office", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> UserOffice:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> UserOffice:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

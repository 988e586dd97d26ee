"""Bounds that hold before a request's body is read: who is asking, and how much they send.

FastAPI reads a body (and spools a multipart one to disk) before any dependency runs, so
an anonymous client could make a server take a large upload only to be told 401. This ASGI
middleware answers first: a request that needs a sign-in and has no valid token gets 401,
and a body over the route's limit gets 413, both before a byte of the body is read; a body
that says nothing of its length is counted as it arrives and cut off at the limit.

Each app says which requests need a sign-in and what each route may receive; the scan
table and scidog share this one mechanism.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._auth import Authenticator, AuthError

#: A JSON body (a rating, a comment, a configuration, an e-logbook export of up to 5,000 pids).
MAX_JSON_BYTES = 1024 * 1024
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def writes_to_the_api(method: str, path: str) -> bool:
    """The default sign-in rule: every write under ``/api/`` (reads may be anonymous)."""
    return method in WRITE_METHODS and path.startswith("/api/")


def json_bodies(method: str, path: str) -> int:
    """The default body limit: :data:`MAX_JSON_BYTES` for every route."""
    return MAX_JSON_BYTES


def route_path(scope: Scope) -> str:
    """The path the app's routes see: without the prefix the app is mounted at (``root_path``)."""
    path: str = scope["path"]
    root = str(scope.get("root_path", "")).rstrip("/")
    if root and path.startswith(root) and path[len(root):len(root) + 1] in ("", "/"):
        return path[len(root):] or "/"
    return path


async def _answer(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """Authenticate and bound requests before the app reads their bodies.

    ``needs_sign_in(method, path)`` says which requests need a valid token (checked here,
    and the user left in ``request.state.user`` for the route); ``body_limit(method, path)``
    how many bytes a request may send. Paths are the app's own (without a mount prefix).
    """

    def __init__(self, app: ASGIApp, auth: Authenticator, *,
                 needs_sign_in: Callable[[str, str], bool] = writes_to_the_api,
                 body_limit: Callable[[str, str], int] = json_bodies) -> None:
        self.app = app
        self.auth = auth
        self.needs_sign_in = needs_sign_in
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], route_path(scope)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.needs_sign_in(method, path):
            problem = await self._sign_in_problem(scope, headers.get("authorization"))
            if problem:
                await _answer(send, 401, problem, [(b"www-authenticate", b"Bearer")])
                return
        limit = self.body_limit(method, path)
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _answer(send, 413, f"a request body here may be at most {limit:,} bytes")
            return
        await self._counted(scope, receive, send, limit)

    async def _sign_in_problem(self, scope: Scope, authorization: str | None) -> str:
        try:
            # Awaited: a fetch of the provider's keys runs off the event loop, and this request
            # waits for it rather than being refused for a key not fetched yet.
            user = await self.auth.authenticate(authorization)
        except AuthError as err:
            return str(err)
        if user is None:
            return "sign in to do this"
        scope.setdefault("state", {})["user"] = user  # the route's dependency takes it from here
        return ""

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        seen = 0
        started = cut = False

        async def counting_receive() -> Message:
            nonlocal seen, cut
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit and not cut:
                    # Answer now, and tell the app the client left: it stops reading, and
                    # whatever it answers is dropped (an error raised here would become a 400).
                    cut = True
                    if not started:
                        await _answer(send, 413, f"a request body here may be at most {limit:,} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if cut:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counting_receive, tracking_send)

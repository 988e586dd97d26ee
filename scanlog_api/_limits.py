"""Bounds that hold before a request's body is read: who is asking, and how much they send.

FastAPI reads (and spools to disk) a multipart body before any dependency runs, so an
anonymous client could make the server take a large upload only to be told 401. This ASGI
middleware answers first: a write without a valid token gets 401 and a body over the
route's limit gets 413, both before a byte of the body is read; a body that says nothing
of its length is counted as it arrives and cut off at the limit.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from scizoo.web import Authenticator, AuthError

from ._images import MAX_IMAGE_BYTES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

#: A JSON body (a rating, a comment, an e-logbook export of up to 5,000 pids).
MAX_JSON_BYTES = 1024 * 1024
#: An attachment: the image and the form around it.
MAX_UPLOAD_BYTES = MAX_IMAGE_BYTES + 64 * 1024
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def body_limit(method: str, path: str) -> int:
    if method == "POST" and path.endswith("/attachments"):
        return MAX_UPLOAD_BYTES
    return MAX_JSON_BYTES


async def _answer(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """Authenticate writes and bound bodies before the app reads them."""

    def __init__(self, app: App, auth: Authenticator) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if method in _WRITES and path.startswith("/api/"):
            problem = self._sign_in_problem(scope, headers.get("authorization"))
            if problem:
                await _answer(send, 401, problem, [(b"www-authenticate", b"Bearer")])
                return
        limit = body_limit(method, path)
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _answer(send, 413, f"a request body here may be at most {limit:,} bytes")
            return
        await self._counted(scope, receive, send, limit)

    def _sign_in_problem(self, scope: Scope, authorization: str | None) -> str:
        try:
            user = self.auth.user_for(authorization)
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

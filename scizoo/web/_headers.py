"""What every answer of a web app says to the browser about itself, and what its server's
access log may say about a request.

Every page and API answer carries a Content-Security-Policy without inline script (text a
user or the catalogue supplied can never run as script, even where a page forgot to write it
as text), ``X-Content-Type-Options: nosniff`` (an answer is read only as what it says it is)
and ``Referrer-Policy: no-referrer`` (no address of ours, with whatever it holds, goes to
another site). A link that still carries a token in its query (``?token=``) has it masked in
uvicorn's access log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def content_security_policy(*, style_src: str = "'self'", img_src: str = "'self' data:",
                            script_src: str = "'self'", connect_src: str = "'self'") -> str:
    """The policy of our pages: scripts, styles and fetches from this origin only (no inline
    script), images from here or ``data:`` (thumbnails are data URLs), no plugins, no
    ``<base>`` elsewhere, forms posted here only, and no framing by any site (clickjacking)."""
    return "; ".join([
        "default-src 'self'", f"script-src {script_src}", f"style-src {style_src}", f"img-src {img_src}",
        f"connect-src {connect_src}", "object-src 'none'", "base-uri 'self'", "form-action 'self'",
        "frame-ancestors 'none'",
    ])


class SecurityHeaders:
    """ASGI middleware: the headers on every answer (also those other middleware answer
    before the routes, such as a 401 or a 413), unless the answer set them itself (a mounted
    app with its own policy keeps it). No page is excepted: the API's documentation (/docs)
    is served from files too (:func:`scizoo.web.add_api_docs`)."""

    def __init__(self, app: App, *, policy: str) -> None:
        self.app = app
        self.headers = [(b"content-security-policy", policy.encode()), (b"x-content-type-options", b"nosniff"),
                        (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in self.headers if name not in have]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


_QUERY_TOKEN = re.compile(r"([?&](?:access_)?token=)[^&\s\"]*", re.IGNORECASE)


class MaskInLogs(logging.Filter):
    """Replaces what ``pattern`` finds in a log record's message and arguments by ``replacement``
    (uvicorn's access log writes the whole request line, query and path)."""

    def __init__(self, pattern: re.Pattern[str], replacement: str) -> None:
        super().__init__()
        self.pattern, self.replacement = pattern, replacement

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self.pattern.sub(self.replacement, a) if isinstance(a, str) else a
                                for a in record.args)
        if isinstance(record.msg, str):
            record.msg = self.pattern.sub(self.replacement, record.msg)
        return True


class MaskQueryTokens(MaskInLogs):
    """Masks ``token=`` and ``access_token=`` values in a log record's request line.

    Our pages take a token from the address's fragment, which browsers never send; an old
    link or a script may still put one in the query.
    """

    def __init__(self) -> None:
        super().__init__(_QUERY_TOKEN, r"\1***")


def mask_in_access_log(mask: MaskInLogs) -> None:
    """Put ``mask`` on uvicorn's access logger (one of each kind, however many apps start)."""
    access = logging.getLogger("uvicorn.access")
    if not any(type(f) is type(mask) for f in access.filters):
        access.addFilter(mask)


def mask_query_tokens_in_access_log() -> None:
    """Put :class:`MaskQueryTokens` on uvicorn's access logger (once)."""
    mask_in_access_log(MaskQueryTokens())


def add_security_headers(app: FastAPI, *, style_src: str = "'self'") -> None:
    """Every answer of ``app`` with the security headers (see the module), and tokens in a
    request's query masked in the access log. ``style_src``: what the app's pages need for
    their styles (``'self'`` when every style is in a served file)."""
    if app.docs_url or app.redoc_url:
        # FastAPI's own pages load Swagger UI or ReDoc from a CDN with inline script: refused here.
        raise ValueError("serve /docs with scizoo.web.add_api_docs (create the app with docs_url=None, redoc_url=None)")
    app.add_middleware(SecurityHeaders, policy=content_security_policy(style_src=style_src))
    mask_query_tokens_in_access_log()

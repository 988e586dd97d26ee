"""The scan table's bounds before a request's body is read (the mechanism is scizoo.web's
:class:`~scizoo.web.RequestLimits`): a write without a valid token gets 401, and a body over
the route's limit 413, before a byte of it is read. An attachment may be an image; every
other body is JSON.
"""

from __future__ import annotations

from starlette.types import ASGIApp

from scizoo.web import MAX_JSON_BYTES, Authenticator
from scizoo.web import RequestLimits as _RequestLimits

from ._images import MAX_IMAGE_BYTES

#: An attachment: the image and the form around it.
MAX_UPLOAD_BYTES = MAX_IMAGE_BYTES + 64 * 1024


def body_limit(method: str, path: str) -> int:
    if method == "POST" and path.endswith("/attachments"):
        return MAX_UPLOAD_BYTES
    return MAX_JSON_BYTES


class RequestLimits(_RequestLimits):
    """Writes under /api/ signed in; attachments up to :data:`MAX_UPLOAD_BYTES`, the rest JSON."""

    def __init__(self, app: ASGIApp, auth: Authenticator) -> None:
        super().__init__(app, auth, body_limit=body_limit)

"""Answers for the user, shared by the web services: each error carries its HTTP status and a
message that is safe to show; the apps turn them into ``{"detail": ...}`` responses."""

from __future__ import annotations


class WebError(Exception):
    """``status`` is the HTTP status; the message is safe to show."""

    status = 400

    def __init__(self, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        #: [{"field": "attributes.2.device", "message": "..."}]: for errors shown next to their field
        self.problems = problems or []


class NotFound(WebError):
    status = 404


class Forbidden(WebError):
    status = 403


class Conflict(WebError):
    """A stale revision, a name that exists, a DOI that is forever: never silently overwritten."""

    status = 409


class TooLarge(WebError):
    status = 413


class Invalid(WebError):
    status = 422


class TooMany(WebError):
    status = 429


class NotConfigured(WebError):
    status = 501


class UpstreamFailed(WebError):
    """A service called on the user's behalf (an e-logbook, DataCite) did not answer as it should."""

    status = 502

"""What scidog raises; the app turns each into its HTTP status (422, 404, 409, 403)."""

from __future__ import annotations


class ScidogError(Exception):
    """An answer for the user: ``status`` is the HTTP status, the message is safe to show."""

    status = 400


class Invalid(ScidogError):
    """A configuration a person has to correct: the message says what and where."""

    status = 422

    def __init__(self, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        #: [{"field": "attributes.2.device", "message": "..."}]: for errors next to their field
        self.problems = problems or []


class NotFound(ScidogError):
    status = 404


class Conflict(ScidogError):
    """Saved from a stale revision, or a name that exists: never silently overwritten."""

    status = 409


class Forbidden(ScidogError):
    status = 403

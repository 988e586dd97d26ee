"""What the store and the clients raise; the app turns each into its HTTP status."""

from __future__ import annotations


class ScanlogError(Exception):
    """An answer for the user: ``status`` is the HTTP status, the message is safe to show."""

    status = 400


class NotFound(ScanlogError):
    status = 404


class Forbidden(ScanlogError):
    status = 403


class Invalid(ScanlogError):
    status = 422


class TooLarge(ScanlogError):
    status = 413


class TooMany(ScanlogError):
    status = 429


class NotConfigured(ScanlogError):
    status = 501


class UpstreamFailed(ScanlogError):
    """A service scanlog calls (the e-logbook) did not answer as it should."""

    status = 502

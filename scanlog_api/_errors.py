"""What the store and the clients raise; the app turns each into its HTTP status."""

from __future__ import annotations

from scizoo.web import Conflict, Forbidden, Invalid, NotConfigured, NotFound, TooLarge, TooMany, UpstreamFailed
from scizoo.web import WebError as ScanlogError

__all__ = ["Conflict", "Forbidden", "Invalid", "NotConfigured", "NotFound", "ScanlogError", "TooLarge", "TooMany",
           "UpstreamFailed"]

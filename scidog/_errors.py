"""What scidog raises; the app turns each into its HTTP status (422, 404, 409, 403)."""

from __future__ import annotations

from scizoo.web import Conflict, Forbidden, Invalid, NotFound
from scizoo.web import WebError as ScidogError

__all__ = ["Conflict", "Forbidden", "Invalid", "NotFound", "ScidogError"]

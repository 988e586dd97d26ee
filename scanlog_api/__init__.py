"""scanlog_api: the live scan table and its HTTP API over the SciCat catalogue."""

from ._app import ScanlogSettings, create_app
from ._auth import Authenticator, AuthError, OidcSettings, TokenUser, can_read
from ._query import build_branches, neutralise
from ._serve import ScanlogServer

__all__ = [
    "AuthError",
    "Authenticator",
    "OidcSettings",
    "ScanlogServer",
    "ScanlogSettings",
    "TokenUser",
    "build_branches",
    "can_read",
    "create_app",
    "neutralise",
]

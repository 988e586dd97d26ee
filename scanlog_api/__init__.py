"""scanlog_api: the live scan table and its HTTP API over the SciCat catalogue.

Thin routes (``_routes``) over a store (``_store``: every query and write); SciCat's
access rule in ``_access``; the table's rows and exports in ``_table``; the live feed in
``_live``; the e-logbook client in ``_elog``; settings in ``_settings``.
"""

from scizoo.web import Authenticator, AuthError, OidcSettings, TokenUser

from ._access import build_branches, can_read
from ._app import create_app
from ._serve import SHUTDOWN_GRACE_S, ScanlogServer
from ._settings import ScanlogSettings
from ._store import MAX_TEXT_SCAN, ScanStore
from ._table import MAX_COLUMNS, neutralise

__all__ = [
    "MAX_COLUMNS",
    "MAX_TEXT_SCAN",
    "SHUTDOWN_GRACE_S",
    "AuthError",
    "Authenticator",
    "OidcSettings",
    "ScanStore",
    "ScanlogServer",
    "ScanlogSettings",
    "TokenUser",
    "build_branches",
    "can_read",
    "create_app",
    "neutralise",
]

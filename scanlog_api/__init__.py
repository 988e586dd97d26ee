"""scanlog_api: the live scan table and its HTTP API over the SciCat catalogue.

Thin routes (``_routes``, ``_routes_publish``) over small interfaces (``_ports``): the scan
store (``_store`` on MongoDB, with the rules above any store in ``_scans``), the
publications' store (``_publications``) under the publisher (``_publish``), all on one
connection (``_catalogue``); the services the routes use, typed, in ``_services``, read by
``_deps``. SciCat's access rule, once, in ``_access`` (its filters evaluated in memory by
``_match``); the table's rows and exports in ``_table``; the live feed in ``_live``; the
e-logbook client in ``_elog``; settings in ``_settings``. In-memory stores for tests:
:mod:`scanlog_api.testing`.
"""

from scizoo.web import Authenticator, AuthError, OidcSettings, TokenUser

from ._access import build_branches, can_read
from ._app import create_app
from ._scans import MAX_TEXT_SCAN
from ._serve import SHUTDOWN_GRACE_S, ScanlogServer
from ._settings import ScanlogSettings
from ._store import ScanStore
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

"""scanlog_api: the HTTP API and web pages over the SciCat catalogue."""

from ._app import ScanList, ScanlogSettings, ScanPublic, TokenUser, access_filter, create_app

__all__ = ["ScanList", "ScanPublic", "ScanlogSettings", "TokenUser", "access_filter", "create_app"]

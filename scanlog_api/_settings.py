"""Settings of the scan table and its API (env prefix SCANLOG_)."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ._auth import OidcSettings, TokenUser


class ScanlogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCANLOG_", env_nested_delimiter="__")

    mongo_uri: SecretStr = SecretStr("mongodb://localhost:27017")
    database: str = "scicat"
    #: How long a start waits for the store to answer before saying it cannot reach it.
    connect_timeout_s: float = 10.0
    #: Static bearer tokens (demo and small sites): token -> user and groups.
    tokens: dict[str, TokenUser] = {}
    #: OIDC provider whose JWTs are accepted (production).
    oidc: OidcSettings | None = None
    #: E-logbook endpoint that accepts {title, html, entry_id} (POST); empty: export disabled.
    elog_url: str = ""
    elog_token: SecretStr | None = None

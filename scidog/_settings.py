"""Settings of scidog, the configuration service (env prefix SCIDOG_)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from scizoo.web import OidcSettings, TokenUser


class ScidogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCIDOG_", env_nested_delimiter="__")

    mongo_uri: SecretStr = SecretStr("mongodb://localhost:27017")
    database: str = "scicat"
    connect_timeout_s: float = 10.0
    #: Static bearer tokens (demo and small sites): token -> user and groups.
    tokens: dict[str, TokenUser] = {}
    #: OIDC provider whose JWTs are accepted (production); the same scheme as the scan table.
    oidc: OidcSettings | None = None
    #: Beamline -> the staff group that edits its configurations (admins edit all).
    staff_groups: dict[str, str] = {}
    #: Search the Tango database (TANGO_HOST) for devices; off where there is none (the demo).
    use_tango_database: bool = True
    #: host:port of the Tango database; empty: the TANGO_HOST environment variable.
    tango_host: str = ""
    #: Device name -> Tango URL for devices served without a database (the simulated beamline).
    device_addresses: dict[str, str] = {}
    #: How long a device may take to answer the editor (attributes, live value).
    device_timeout_s: float = 1.0
    #: How many device proxies the editor keeps open (least recently used first out).
    proxy_cache_size: int = Field(256, ge=1, le=100_000)

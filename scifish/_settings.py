"""Settings of a capture process: the Sardana recorder and the CLI (env prefix SCIFISH_).

:class:`CaptureSettings` holds what every capturing process needs (Kafka, spool, Tango);
scifly's settings extend it under their own prefix (SCIFLY_).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from scizoo.core import ConfigError, KafkaConnection

from ._configsource import ActiveConfig


class CaptureSettings(KafkaConnection, BaseSettings):
    """What a process that captures scans needs; subclassed with an env prefix."""

    topic_prefix: str = "scizoo"
    spool_dir: Path = Path("/var/spool/scifish")
    device_timeout_s: float = 1.0
    #: How often a device that timed out is tried again in the background (captures skip it
    #: meanwhile, marking its entries "unreachable since ...", at no cost).
    device_probe_interval_s: float = 2.0
    send_timeout_s: float = 5.0
    #: Device name -> Tango URL, for devices served without a Tango database (the
    #: simulated beamline). JSON in the environment: SCIFISH_DEVICE_ADDRESSES='{"a/b/c": "tango://..."}'.
    device_addresses: dict[str, str] = {}
    #: scidog's store: when set, captures use the beamline's active configuration from it
    #: (kept current by a change stream, and on disk in ``config_cache_file``) instead of a file.
    config_store_uri: SecretStr | None = None
    config_store_database: str = "scicat"
    #: The beamline whose active configuration is used (with ``config_store_uri``).
    beamline: str = ""
    config_cache_file: Path = Path("/var/lib/scifish/active-config.json")

    def active_config(self) -> ActiveConfig | None:
        """A follower of the beamline's active configuration in scidog's store, or None (use a file)."""
        if self.config_store_uri is None:
            return None
        if not self.beamline:
            raise ConfigError("a configuration store is set but no beamline: set the beamline's name too")
        return ActiveConfig(self.config_store_uri.get_secret_value(), self.config_store_database, self.beamline,
                            self.config_cache_file)


class ScifishSettings(CaptureSettings):
    """The Sardana recorder's and ``scifish capture``'s settings."""

    model_config = SettingsConfigDict(env_prefix="SCIFISH_")

    #: The beamline configuration (which attributes each scan records).
    config_file: Path = Path("config/beamlines/sim.yaml")

"""Settings of a capture process: the Sardana recorder and the CLI (env prefix SCIFISH_).

:class:`CaptureSettings` holds what every capturing process needs (Kafka, spool, Tango);
scifly's settings extend it under their own prefix (SCIFLY_).
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class CaptureSettings(BaseSettings):
    """What a process that captures scans needs; subclassed with an env prefix."""

    kafka_bootstrap: str = "localhost:9092"
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


class ScifishSettings(CaptureSettings):
    """The Sardana recorder's and ``scifish capture``'s settings."""

    model_config = SettingsConfigDict(env_prefix="SCIFISH_")

    #: The beamline configuration (which attributes each scan records).
    config_file: Path = Path("config/beamlines/sim.yaml")

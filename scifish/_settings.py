"""Settings of a scifish capture process (env prefix SCIFISH_)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class ScifishSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCIFISH_")

    kafka_bootstrap: str = "localhost:9092"
    topic_prefix: str = "scizoo"
    spool_dir: Path = Path("/var/spool/scifish")
    device_timeout_s: float = 1.0
    send_timeout_s: float = 5.0
    config_file: Path = Path("config/beamlines/sim.yaml")
    #: Device name -> Tango URL, for devices served without a Tango database (the
    #: simulated beamline). JSON in the environment: SCIFISH_DEVICE_ADDRESSES='{"a/b/c": "tango://..."}'.
    device_addresses: dict[str, str] = {}

"""Settings of a scifly watcher process (env prefix SCIFLY_)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class SciflySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCIFLY_")

    kafka_bootstrap: str = "localhost:9092"
    topic_prefix: str = "scizoo"
    spool_dir: Path = Path("/var/spool/scifly")
    #: What has been captured; kept across restarts.
    state_file: Path = Path("/var/lib/scifly/sent.jsonl")
    config_file: Path = Path("config/scifly/sim.yaml")
    beamline_config_file: Path = Path("config/beamlines/sim.yaml")
    device_timeout_s: float = 1.0
    send_timeout_s: float = 5.0
    #: Device name -> Tango URL for devices served without a database (the simulation).
    device_addresses: dict[str, str] = {}

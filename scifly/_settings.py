"""Settings of a scifly watcher process (env prefix SCIFLY_)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from scifish import CaptureSettings


class SciflySettings(CaptureSettings):
    model_config = SettingsConfigDict(env_prefix="SCIFLY_")

    spool_dir: Path = Path("/var/spool/scifly")
    #: What has been captured; kept across restarts.
    state_file: Path = Path("/var/lib/scifly/sent.jsonl")
    #: scifly's own configuration: acquisition programs and their file rules.
    config_file: Path = Path("config/scifly/sim.yaml")
    #: The beamline configuration (which attributes each file's dataset records).
    beamline_config_file: Path = Path("config/beamlines/sim.yaml")
    #: Port of /healthz, /readyz (the PathFixer answers) and /metrics; unset: not served.
    health_port: int | None = None

"""Settings of a scifly watcher process (env prefix SCIFLY_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import SettingsConfigDict

from scifish import CaptureSettings
from scizoo.core import ConfigError

from ._paths import DataPathRules


class SciflySettings(CaptureSettings):
    model_config = SettingsConfigDict(env_prefix="SCIFLY_")

    spool_dir: Path = Path("/var/spool/scifly")
    #: What has been captured; kept across restarts.
    state_file: Path = Path("/var/lib/scifly/sent.jsonl")
    #: scifly's own configuration: acquisition programs and their file rules.
    config_file: Path = Path("config/scifly/sim.yaml")
    #: The beamline configuration (which attributes each file's dataset records).
    beamline_config_file: Path = Path("config/beamlines/sim.yaml")
    #: The folders that hold the facility's data: the PathFixer's data path is watched only inside
    #: one of them. Empty (the default): scifly does not start, since Tango does not say who wrote
    #: the PathFixer. JSON in the environment: SCIFLY_DATA_ROOTS='["/data"]'.
    data_roots: list[str] = Field(default_factory=list)
    #: Where a proposal's data is below a data root (see :class:`DataPathRules`), e.g.
    #: "visitors/{beamline}/{proposal}"; the data path is that folder or one below it.
    data_path_layout: str = "{beamline}/{proposal}"
    #: Port of /healthz, /readyz (the PathFixer answers) and /metrics; unset: not served.
    health_port: int | None = None

    def data_paths(self) -> DataPathRules:
        """The rule for which data paths may be watched; raises :class:`ConfigError` if it is unset or invalid."""
        if not self.data_roots:
            raise ConfigError("scifly watches only folders inside its data roots, and none is set: "
                              "set SCIFLY_DATA_ROOTS, e.g. '[\"/data\"]' (and SCIFLY_DATA_PATH_LAYOUT)")
        try:
            return DataPathRules(roots=self.data_roots, layout=self.data_path_layout)
        except ValidationError as err:
            problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in err.errors())
            raise ConfigError(f"scifly's data path rule is invalid: {problems}") from None

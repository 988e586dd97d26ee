"""Beamline capture configuration: which Tango attributes are recorded with each scan."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ._errors import ConfigError


class AttributeConfig(BaseModel):
    """One recorded attribute."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=120, description="Friendly name shown to users.")]
    group: Annotated[str, Field(description="Group the entry is shown under.")] = ""
    device: Annotated[str, Field(min_length=1, description="Tango device name, e.g. b110a/mot/x.")]
    attribute: Annotated[str, Field(min_length=1, description="Tango attribute name.")]
    unit: Annotated[str, Field(description="Unit of the value (pint syntax).")] = ""
    mapping: Annotated[
        dict[str, Any],
        Field(description="Value mapping, e.g. {4: inserted}; keys compared as strings."),
    ] = {}
    at: Annotated[
        Literal["start", "end", "both"],
        Field(description="Read at the start of a scan, at its end (e.g. a dose or a final temperature), or both "
                          "(the end reading is recorded as <name>_end)."),
    ] = "start"

    @field_validator("mapping", mode="before")
    @classmethod
    def _keys_as_strings(cls, value: Any) -> Any:
        # YAML reads `4: inserted` with an int key; compare as text so 4, 4.0 and "4" agree.
        if isinstance(value, dict):
            return {_mapping_key(k): v for k, v in value.items()}
        return value


class BeamlineConfig(BaseModel):
    """The active capture configuration of one beamline."""

    model_config = ConfigDict(extra="forbid")

    beamline: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Configuration name.")] = "default"
    description: Annotated[str, Field(max_length=2000, description="What this configuration is for.")] = ""
    revision: Annotated[int, Field(ge=0)] = 1
    staff_group: Annotated[str, Field(description="Group given read access to every dataset.")] = ""
    pathfixer: Annotated[str, Field(description="Tango device publishing proposal and data path.")] = ""
    facility: Annotated[str, Field(description="Facility, used in creationLocation.")] = ""
    attributes: list[AttributeConfig] = []

    @field_validator("attributes")
    @classmethod
    def _unique_names(cls, value: list[AttributeConfig]) -> list[AttributeConfig]:
        seen: set[str] = set()
        for attr in value:
            names = [attr.name, f"{attr.name}_end"] if attr.at == "both" else [attr.name]
            for name in names:
                if name in seen:
                    raise ValueError(f"friendly name {name!r} is used twice")
                seen.add(name)
        return value


def _mapping_key(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def apply_mapping(value: Any, mapping: dict[str, Any]) -> Any:
    """Return the label a value maps to, or the value itself when the mapping has no entry."""
    if not mapping or isinstance(value, (list, dict)):
        return value
    return mapping.get(_mapping_key(value), value)


def parse_beamline_config(text: str, source: str = "the configuration") -> BeamlineConfig:
    """A beamline configuration from YAML text; :class:`ConfigError` says what is wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{source} is not valid YAML: {err}") from err
    try:
        return BeamlineConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{source} is not a valid beamline configuration: {err}") from err


def dump_beamline_config(config: BeamlineConfig) -> str:
    """YAML text that :func:`parse_beamline_config` reads back to the same configuration."""
    data = config.model_dump(mode="json", exclude_defaults=True)
    data["beamline"] = config.beamline
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


M = TypeVar("M", bound=BaseModel)


def load_yaml_model(path: str | Path, model: type[M], what: str) -> M:
    """A pydantic model from a YAML file; :class:`ConfigError` says which file and what is wrong."""
    path = Path(path)
    try:
        return model.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except OSError as err:
        raise ConfigError(f"cannot read {what} {path}: {err.strerror}") from err
    except (yaml.YAMLError, ValidationError) as err:
        raise ConfigError(f"{path} is not a valid {what}: {err}") from err


def load_beamline_config(path: str | Path) -> BeamlineConfig:
    """Read a beamline configuration from a YAML file.

    Raises
    ------
    ConfigError
        The file is missing, is not YAML, or does not describe a valid configuration.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read beamline configuration {path}: {err.strerror}") from err
    return parse_beamline_config(text, str(path))

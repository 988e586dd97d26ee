"""Beamline capture configuration: which Tango attributes are recorded with each scan."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Final, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from ._documents import metadata_key
from ._errors import ConfigError
from ._messages import TechniqueRef
from ._reserved import is_reserved_key
from ._techniques import panet_technique

#: How deep a configuration's YAML may nest (a configuration needs 4 levels: a mapping's values).
MAX_YAML_DEPTH = 32
#: How much of an input an error message may quote, and how many problems it lists.
MAX_QUOTED_CHARS = 200
MAX_LISTED_PROBLEMS = 10


class AttributeConfig(BaseModel):
    """One recorded attribute."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=120, description="Friendly name shown to users; not one of "
                               "the keys capture writes itself (scan_status, motor_*, ...).")]
    group: Annotated[str, Field(max_length=120, description="Group the entry is shown under.")] = ""
    device: Annotated[str, Field(min_length=1, max_length=256, description="Tango device name, e.g. b110a/mot/x.")]
    attribute: Annotated[str, Field(min_length=1, max_length=256, description="Tango attribute name.")]
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

    # Only for what people save now (the validation context NEW_CONFIGURATION): a configuration
    # stored before keeps capturing, and the entry itself is then refused at capture.
    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str, info: ValidationInfo) -> str:
        if (info.context or {}).get(NEW_CONFIGURATION_KEY):
            _refuse_reserved(value)
        return value

    @model_validator(mode="after")
    def _end_not_reserved(self, info: ValidationInfo) -> AttributeConfig:
        if (info.context or {}).get(NEW_CONFIGURATION_KEY) and self.at == "both":
            _refuse_reserved(f"{self.name}_end")
        return self


def _refuse_reserved(name: str) -> None:
    if is_reserved_key(name):
        raise ValueError(f"friendly name {name!r} is stored as {metadata_key(name)!r}, a key every scan records "
                         "itself (scan_id, scan_status, message_produced_at, ...): choose another friendly name")


#: Validation context of a configuration a person saves now (scidog, an import): reserved
#: friendly names are refused. Stored configurations are read without it.
NEW_CONFIGURATION_KEY = "new_configuration"
NEW_CONFIGURATION: Final = {NEW_CONFIGURATION_KEY: True}


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
    techniques: Annotated[list[TechniqueRef], Field(
        max_length=20, description="The beamline's experimental techniques (PaNET): names such as 'XAS' or "
                                   "'small angle x-ray scattering', or {pid: PaNET IRI, name}. Every scan "
                                   "captured with this configuration carries them (SciCat's techniques).")] = []
    attributes: list[AttributeConfig] = []

    @field_validator("techniques", mode="before")
    @classmethod
    def _named_techniques(cls, value: Any) -> Any:
        return [panet_technique(t) for t in value] if isinstance(value, list) else value

    @field_validator("techniques")
    @classmethod
    def _each_technique_once(cls, value: list[TechniqueRef]) -> list[TechniqueRef]:
        # After validation: however each was given (a name, {pid, name}, a TechniqueRef).
        if len({t.pid for t in value}) != len(value):
            raise ValueError("a technique is named twice")
        return value

    @field_validator("attributes")
    @classmethod
    def _unique_names(cls, value: list[AttributeConfig]) -> list[AttributeConfig]:
        # Compared as stored: 'a.b' and 'a_b' would both be written under 'a_b', one over the other.
        seen: dict[str, str] = {}
        for attr in value:
            names = [attr.name, f"{attr.name}_end"] if attr.at == "both" else [attr.name]
            for name in names:
                key = metadata_key(name)
                if key in seen:
                    if seen[key] == name:
                        raise ValueError(f"friendly name {name!r} is used twice")
                    raise ValueError(f"friendly names {seen[key]!r} and {name!r} are both stored as {key!r}")
                seen[key] = name
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


class _PlainYamlLoader(yaml.SafeLoader):
    """YAML as a configuration is written: no anchors or aliases, nested at most MAX_YAML_DEPTH.

    An alias is a reference, so a few hundred bytes of aliases of aliases (a "billion laughs")
    make a graph that costs seconds and gigabytes as soon as anything walks it: a validation
    error quoting it, a dump for the store. A configuration never needs one, so the first
    anchor or alias stops the parse, before any of it is built.
    """

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(None, None, "anchors and aliases (&name, *name) are not accepted: "
                                              "write each value out", event.start_mark)
        if self._depth >= MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_YAML_DEPTH} levels deep",
                                              event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _clip(text: str, limit: int = MAX_QUOTED_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def validation_summary(err: ValidationError) -> str:
    """What is wrong, field by field, without quoting the input: at most MAX_LISTED_PROBLEMS
    problems, each clipped (``str(err)`` would quote every wrong value whole)."""
    found = err.errors(include_url=False, include_context=False, include_input=False)
    parts = [_clip(f"{'.'.join(str(p) for p in e['loc']) or '(the document)'}: {e['msg']}")
             for e in found[:MAX_LISTED_PROBLEMS]]
    if len(found) > MAX_LISTED_PROBLEMS:
        parts.append(f"and {len(found) - MAX_LISTED_PROBLEMS} more")
    return "; ".join(parts)


def read_plain_yaml(text: str, source: str = "the configuration") -> Any:
    """YAML text as plain data, refusing anchors, aliases and deep nesting (:class:`ConfigError`)."""
    try:
        return yaml.load(text, Loader=_PlainYamlLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as err:
        raise ConfigError(f"{source} is not valid YAML: {_clip(str(err), 4 * MAX_QUOTED_CHARS)}") from err


def parse_beamline_config(text: str, source: str = "the configuration", *, new: bool = False) -> BeamlineConfig:
    """A beamline configuration from YAML text; :class:`ConfigError` says what is wrong.

    No anchors or aliases (see :class:`_PlainYamlLoader`); the message names each wrong
    field and never quotes the input whole. ``new``: a configuration a person saves now
    (reserved friendly names refused, see :data:`NEW_CONFIGURATION`).
    """
    data = read_plain_yaml(text, source)
    try:
        return BeamlineConfig.model_validate(data, context=NEW_CONFIGURATION if new else None)
    except ValidationError as err:
        raise ConfigError(f"{source} is not a valid beamline configuration: {validation_summary(err)}") from err


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


def load_beamline_config(path: str | Path, *, new: bool = False) -> BeamlineConfig:
    """Read a beamline configuration from a YAML file (``new``: one a person saves now, see
    :data:`NEW_CONFIGURATION`).

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
    return parse_beamline_config(text, str(path), new=new)

"""Request bodies: read only once the caller is allowed to send them, parsed at bounded cost,
refused with messages that name fields and never quote the input.

FastAPI parses a declared body before any dependency runs (so before the access check): scidog's
routes declare none and read theirs here, after it. JSON goes through pydantic's parser (its
nesting is bounded); YAML through scizoo.core's loader, which refuses anchors and aliases (a
few hundred bytes of aliases of aliases expand to gigabytes) and deep nesting.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from scizoo.core import NEW_CONFIGURATION, BeamlineConfig, ConfigError, parse_beamline_config

from ._errors import Invalid

M = TypeVar("M", bound=BaseModel)

#: A configuration as YAML (the files under config/ are a few KiB).
MAX_YAML_BYTES = 256 * 1024
#: How many problems an answer lists, and how much of each it quotes.
MAX_PROBLEMS = 20
MAX_PROBLEM_CHARS = 300
#: How many of them the one-line ``detail`` repeats.
MAX_DETAILED = 5


def _clip(text: str, limit: int = MAX_PROBLEM_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def refusal(err: ValidationError, what: str) -> Invalid:
    """A 422 naming each wrong field (``attributes.0.name``) and why, without the values sent."""
    found = err.errors(include_url=False, include_context=False, include_input=False)
    problems = [{"field": _clip(".".join(str(p) for p in e["loc"]) or "(the document)", 120),
                 "message": _clip(str(e["msg"]).removeprefix("Value error, "))}
                for e in found[:MAX_PROBLEMS]]
    detail = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:MAX_DETAILED])
    if len(found) > MAX_DETAILED:
        detail += f"; and {len(found) - MAX_DETAILED} more"
    return Invalid(f"{what}: {detail}", problems)


def parse_json(raw: bytes, model: type[M], what: str) -> M:
    """``raw`` as ``model``, or :class:`Invalid` (422) saying what is wrong, field by field."""
    try:
        # Context: what a person saves now (reserved friendly names refused; stored ones are read without).
        return model.model_validate_json(raw, context=NEW_CONFIGURATION)
    except ValidationError as err:
        raise refusal(err, f"this is not a valid {what}") from err


def parse_yaml_config(raw: bytes) -> BeamlineConfig:
    """A configuration from uploaded YAML, or :class:`Invalid` (422): no anchors or aliases."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise Invalid("the uploaded YAML is not UTF-8 text") from err
    try:
        return parse_beamline_config(text, "the uploaded YAML", new=True)
    except ConfigError as err:
        raise Invalid(str(err)) from err


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """What a route reads (for its OpenAPI operation): a JSON body of ``model``."""
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


YAML_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/yaml": {"schema": {"type": "string", "maxLength": MAX_YAML_BYTES}}}}}

"""What a reduction pipeline is made of, as data: its steps, each step's inputs, version and
parameters (with their types and defaults). The workers (scireduce), which hold the pipelines
as code, write one document per pipeline at start; the scan table, which may not import them,
reads these to draw the pipeline and to say which parameters a rule may set."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from ._documents import _Written


class StepParameter(_Written):
    name: str
    #: As JSON Schema names it ("integer", "number", "string", "boolean", "array", "object"), or
    #: the choices ("one of a, b"); "any" when the schema does not say.
    type: str
    default: Any = None
    required: bool = False
    description: str = ""
    #: Bounds and patterns the step checks, as text ("≥ 1", "≤ 10000").
    constraints: list[str] = Field(default_factory=list)


class StepDescription(_Written):
    name: str
    version: str
    #: The steps (or "raw", the scan's file) whose results this step takes, in order.
    inputs: list[str]
    parameters: list[StepParameter] = Field(default_factory=list)


class PipelineDescription(_Written):
    """One pipeline as a worker has it (``_id``: its name; the newest worker's start writes it)."""

    id: Annotated[str, Field(alias="_id", min_length=1)]
    name: str
    version: str
    description: str = ""
    steps: list[StepDescription]
    publishedBy: str
    publishedAt: datetime


_BOUNDS = {"minimum": "≥", "maximum": "≤", "exclusiveMinimum": ">", "exclusiveMaximum": "<",
           "minLength": "length ≥", "maxLength": "length ≤", "pattern": "matches", "minItems": "items ≥",
           "maxItems": "items ≤"}


def _type_of(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"])
    if "const" in schema:
        return f"always {schema['const']}"
    if "type" in schema:
        return str(schema["type"])
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return " or ".join(_type_of(o) for o in options)
    return "any"


def parameters_of(schema: dict[str, Any]) -> list[StepParameter]:
    """A step's parameters from its pydantic model's JSON Schema (``model_json_schema()``)."""
    required = set(schema.get("required", []))
    out = []
    for name, prop in (schema.get("properties") or {}).items():
        constraints = [f"{sign} {prop[key]}" for key, sign in _BOUNDS.items() if key in prop]
        out.append(StepParameter(name=name, type=_type_of(prop), default=prop.get("default"),
                                 required=name in required, description=str(prop.get("description", "")),
                                 constraints=constraints))
    return out


def pipeline_problems(rules: list[Any], pipelines: dict[str, PipelineDescription]) -> list[dict[str, str]]:
    """What the workers' pipelines say is wrong with these rules (``ReductionRule``s), each at its
    field: a pipeline they do not have, a step it does not have, a parameter a step does not take.
    Nothing when no worker has described its pipelines yet; a ``module:attribute`` pipeline (which
    only a worker that allows it runs) is not checked."""
    if not pipelines:
        return []
    problems = []
    for i, rule in enumerate(rules):
        if ":" in rule.pipeline:
            continue
        known = pipelines.get(rule.pipeline)
        if known is None:
            problems.append({"field": f"rules.{i}.pipeline", "message": f"the workers have no pipeline "
                             f"{rule.pipeline!r}; they have: {', '.join(sorted(pipelines))}"})
            continue
        steps = {s.name: s for s in known.steps}
        for step_name, values in rule.params.items():
            step = steps.get(step_name)
            if step is None:
                problems.append({"field": f"rules.{i}.params.{step_name}", "message": f"{known.name} has no step "
                                 f"{step_name!r}; its steps: {', '.join(steps)}"})
                continue
            taken = [p.name for p in step.parameters]
            for name in values:
                if name not in taken:
                    problems.append({"field": f"rules.{i}.params.{step_name}.{name}", "message":
                                     f"step {step_name!r} has no parameter {name!r}; "
                                     f"it takes: {', '.join(taken) or 'none'}"})
    return problems

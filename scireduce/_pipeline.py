"""Pipelines as code: a small DAG of versioned steps, each cached by a chained key.

As in NIST reductus: a step's key is the hash of its name and version, its canonical
parameters and the keys of its inputs, so keys chain through the graph. A raw input is
keyed by its path, size and modification time. Running a pipeline again with the same
inputs does no work; changing one step's parameters recomputes that step and what depends
on it; a new step version invalidates its results.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ._cache import ResultCache

#: The name under which a step receives the raw input: ``{"path": <the scan's file>}``, and for
#: a group reduction ``{"path": <the first>, "paths": [<every scan's file, in order>]}``.
RAW = "raw"


class NoParams(BaseModel):
    """For a step that takes none."""


@dataclass(frozen=True)
class Step:
    """One step: ``run(params, **inputs) -> result`` (a JSON-able dict), named and versioned."""

    name: str
    version: str
    run: Callable[..., dict[str, Any]]
    params: type[BaseModel] = NoParams
    inputs: tuple[str, ...] = (RAW,)


@dataclass(frozen=True)
class Pipeline:
    """Steps in an order where every input comes earlier (or is the raw input)."""

    name: str
    version: str
    steps: tuple[Step, ...]
    #: rule parameters are per step: {step name: {parameter: value}}
    description: str = ""

    def __post_init__(self) -> None:
        seen = {RAW}
        for step in self.steps:
            missing = [i for i in step.inputs if i not in seen]
            if missing:
                raise ValueError(f"{self.name}: step {step.name} needs {missing} before it")
            seen.add(step.name)

    def step_params(self, params: Mapping[str, Mapping[str, Any]]) -> dict[str, BaseModel]:
        """Each step's validated parameters (unknown steps or fields are refused)."""
        unknown = set(params) - {s.name for s in self.steps}
        if unknown:
            raise ValueError(f"{self.name} has no step {sorted(unknown)}")
        for step in self.steps:
            extra = set(params.get(step.name, {})) - set(step.params.model_fields)
            if extra:
                raise ValueError(f"step {step.name!r} of {self.name} has no parameter {sorted(extra)}")
        return {s.name: s.params.model_validate(dict(params.get(s.name, {}))) for s in self.steps}


def raw_key(path: Path) -> str:
    """A raw file's key: its path, size and modification time."""
    st = path.stat()
    return _hash({"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns})


def step_key(step: Step, params: BaseModel, input_keys: list[str]) -> str:
    return _hash({"step": step.name, "version": step.version, "params": params.model_dump(mode="json"),
                  "inputs": input_keys})


def _hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass
class Run:
    """What a run produced: every step's result and key, and which steps actually executed."""

    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    executed: list[str] = field(default_factory=list)


def run_pipeline(pipeline: Pipeline, raw: Path | Sequence[Path], params: Mapping[str, Mapping[str, Any]],
                 cache: ResultCache) -> Run:
    """The final step's result, computing only what the cache does not hold.

    ``raw``: the scan's file, or the files of a group's scans (keyed together, in order).

    Keys chain without results, so every key is known before anything runs; then only the
    results actually needed are read or computed: with the final result cached, nothing
    else is even read.
    """
    validated = pipeline.step_params(params)
    steps = {s.name: s for s in pipeline.steps}
    if isinstance(raw, Path):
        out = Run(keys={RAW: raw_key(raw)}, results={RAW: {"path": str(raw)}})
    else:
        if not raw:
            raise ValueError(f"{pipeline.name}: no input file")
        out = Run(keys={RAW: _hash([raw_key(p) for p in raw])},
                  results={RAW: {"path": str(raw[0]), "paths": [str(p) for p in raw]}})
    for step in pipeline.steps:
        out.keys[step.name] = step_key(step, validated[step.name], [out.keys[i] for i in step.inputs])

    def result(name: str) -> dict[str, Any]:
        if name in out.results:
            return out.results[name]
        found = cache.get(out.keys[name])
        if found is None:
            step = steps[name]
            found = step.run(validated[name], **{i: result(i) for i in step.inputs})
            cache.put(out.keys[name], found)
            out.executed.append(name)
        out.results[name] = found
        return found

    result(pipeline.steps[-1].name)
    return out

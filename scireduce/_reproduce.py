"""``scireduce reproduce FILE``: run a derived file's recipe again and check the numbers are the same.

The recipe is what the job wrote into the file (``/entry/process``'s ``recipe`` attribute,
:mod:`scireduce._job`); it runs again as a worker would run it (a subprocess, a fresh cache
so every step is computed), and every array of the new file's NXdata groups is compared with
the file's. What is not as recorded beside the numbers (step versions, the environment's lock
hash) is said as notes: the numbers decide.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._job import sha1
from ._ports import JobSpec
from ._runner import SubprocessRunner


class ReproduceError(Exception):
    """A file that cannot be reproduced at all (no recipe, an input gone or changed, a refused
    pipeline); the message says which and why."""


@dataclass
class Reproduction:
    """What running a file's recipe again gave: ``different`` names each array that differs
    (with why), ``notes`` what else is not as recorded (versions, environment)."""

    file: Path
    arrays: list[str] = field(default_factory=list)
    different: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.different


def read_recipe(path: Path) -> dict[str, Any]:
    """The recipe a derived NeXus file carries (``/entry/process``'s ``recipe`` attribute)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            process = f.get("entry/process")
            raw = process.attrs.get("recipe") if process is not None else None
    except OSError as err:
        raise ReproduceError(f"{path} cannot be read as NeXus/HDF5: {err}") from err
    if raw is None:
        raise ReproduceError(f"{path} carries no recipe (no 'recipe' attribute on /entry/process): "
                             "not a file scireduce derived")
    try:
        recipe = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
    except ValueError as err:
        raise ReproduceError(f"{path}: its recipe is not JSON: {err}") from err
    if not isinstance(recipe, dict) or not recipe.get("pipeline") or not recipe.get("inputs"):
        raise ReproduceError(f"{path}: its recipe names no pipeline or no inputs")
    return recipe


def _arrays(path: Path) -> dict[str, Any]:
    """Every dataset of the file's NXdata groups, by path (the numbers a reduction made)."""
    import h5py
    import numpy as np

    found: dict[str, Any] = {}

    def visit(name: str, item: Any) -> None:
        parent = item.parent.attrs.get("NX_class", b"")
        parent = parent.decode() if isinstance(parent, bytes) else str(parent)
        if isinstance(item, h5py.Dataset) and parent == "NXdata":
            found[name] = np.asarray(item[()])

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return found


def compare_arrays(recorded: dict[str, Any], again: dict[str, Any], *, atol: float, rtol: float) -> dict[str, str]:
    """Which arrays differ and why: missing on one side, another shape, or values beyond
    ``atol + rtol * |again|`` (NaN equals NaN). Tolerances 0: bit for bit the same numbers."""
    import numpy as np

    different: dict[str, str] = {}
    for name in sorted({*recorded, *again}):
        if name not in again:
            different[name] = "in the file, not made again"
        elif name not in recorded:
            different[name] = "made again, not in the file"
        elif recorded[name].shape != again[name].shape:
            different[name] = f"shape {recorded[name].shape} in the file, {again[name].shape} made again"
        else:
            a, b = recorded[name], again[name]
            if a.dtype.kind in "fiuc" and b.dtype.kind in "fiuc":
                close = np.isclose(a, b, atol=atol, rtol=rtol, equal_nan=True)
                if not close.all():
                    worst = float(np.nanmax(np.abs(a.astype(float) - b.astype(float))))
                    different[name] = f"{int((~close).sum())} of {close.size} values differ (max |difference| {worst:g})"
            elif not np.array_equal(a, b):
                different[name] = "the values differ"
    return different


def reproduce(path: Path, *, atol: float = 0.0, rtol: float = 0.0, python: str = "", timeout_s: float = 600.0,
              module_pipelines: bool = False, work_dir: Path | None = None) -> Reproduction:
    """Run a derived file's recipe again (a fresh cache, so every step is computed, in a subprocess
    as a worker would) and compare every NXdata array with the file's.

    Raises :class:`ReproduceError` when it cannot be run: no recipe, an input file gone or
    changed since (its sha1), a pipeline given as a module path without ``module_pipelines``
    (a file names it, and importing it runs code), or the run failing.
    """
    recipe = read_recipe(path)
    pipeline = str(recipe.get("pipeline_ref") or recipe["pipeline"])
    if ":" in pipeline and not module_pipelines:
        raise ReproduceError(f"{path} names the pipeline {pipeline!r}, a module path: importing it runs its code; "
                             "pass --module-pipelines if you trust the file")
    inputs = recipe["inputs"]
    for given in inputs:  # every input as it was: there, and the same bytes
        raw = Path(given["path"])
        if not raw.is_file():
            raise ReproduceError(f"{path}: its input {raw} is not there any more")
        if given.get("sha1") and sha1(raw) != given["sha1"]:
            raise ReproduceError(f"{path}: its input {raw} changed since (sha1 {sha1(raw)}, recorded {given['sha1']})")
    # A group reduction's pipeline takes the list of its scans (older recipes: more than one input).
    group = [(str(g.get("pid", "")), str(g["path"])) for g in inputs] if recipe.get("group") or len(inputs) > 1 else []
    result = Reproduction(file=path)
    with tempfile.TemporaryDirectory(prefix="scireduce-reproduce-", dir=work_dir) as tmp:
        spec = JobSpec(pipeline=pipeline, raw_path=str(inputs[0]["path"]), params=recipe.get("params", {}),
                       input_pid=str(inputs[0].get("pid", "")), cache_dir=str(Path(tmp) / "cache"),
                       out_dir=str(Path(tmp) / "out"), cache_max_bytes=256 * 1024 * 1024, group=group)
        outcome = SubprocessRunner().run(spec, python=python, timeout_s=timeout_s)
        if outcome.output is None:
            raise ReproduceError(f"the recipe of {path} did not run again: {outcome.log.strip()[-2000:]}")
        again = next((Path(f.path) for f in outcome.output.files if f.path.endswith(".nxs")), None)
        if again is None:
            raise ReproduceError(f"the recipe of {path} ran again but made no NeXus file")
        recorded_arrays, new_arrays = _arrays(path), _arrays(again)
        new_recipe = outcome.output.recipe.model_dump(mode="json")
    result.arrays = sorted({*recorded_arrays, *new_arrays})
    result.different = compare_arrays(recorded_arrays, new_arrays, atol=atol, rtol=rtol)
    result.notes = _differences(recipe, new_recipe)
    return result


def _differences(recorded: dict[str, Any], again: dict[str, Any]) -> list[str]:
    """What of the pipeline and environment is not as recorded (said, not judged: the numbers decide)."""
    notes = []
    if recorded.get("pipeline_version") != again.get("pipeline_version"):
        notes.append(f"pipeline version {recorded.get('pipeline_version')} recorded, "
                     f"{again.get('pipeline_version')} now")
    before = {s.get("name"): s.get("version") for s in recorded.get("steps", [])}
    now = {s.get("name"): s.get("version") for s in again.get("steps", [])}
    for name in sorted({*before, *now}, key=str):
        if before.get(name) != now.get(name):
            notes.append(f"step {name}: version {before.get(name)} recorded, {now.get(name)} now")
    env_before, env_now = recorded.get("environment", {}), again.get("environment", {})
    for key in ("scizoo", "python_version", "lock", "image"):
        if env_before.get(key) != env_now.get(key):
            notes.append(f"environment {key}: {env_before.get(key)} recorded, {env_now.get(key)} now")
    return notes

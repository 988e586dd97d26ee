"""One reduction job, in a process of its own: ``python -m scireduce._job`` reads its spec (JSON)
on stdin, runs the pipeline through the cache, writes the outputs and prints the result (JSON)
as its last line. A crash, a hang or a leak here never touches the worker.

Every output carries the recipe (pipeline, step versions and keys, parameters, input pids
and checksums), so a result can be reproduced from the file alone: as attributes of the
HDF5 file's ``/entry/process`` group (NeXus ``NXprocess``), and as a JSON sidecar.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from ._cache import ResultCache
from ._pipeline import Pipeline, run_pipeline
from ._provenance import environment
from ._registry import pipelines

#: The runner's pid, set in the job's environment (:func:`_die_with_parent`).
PARENT_VARIABLE = "SCIREDUCE_JOB_PARENT"


def find_pipeline(name: str) -> Pipeline:
    """A registered pipeline by name, or ``module:attribute`` (a facility's own, or a test's)."""
    if ":" in name:
        module, _, attribute = name.partition(":")
        found = getattr(importlib.import_module(module), attribute)
        if not isinstance(found, Pipeline):
            raise TypeError(f"{name} is not a Pipeline")
        return found
    known = pipelines()
    if name not in known:
        raise KeyError(f"no pipeline {name!r}; registered: {', '.join(sorted(known)) or 'none'}")
    return known[name]


def sha1(path: Path) -> str:
    digest = hashlib.sha1()  # noqa: S324 - SciCat's checksum algorithm, not a security use
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_outputs(folder: Path, profile: dict[str, Any], recipe: dict[str, Any]) -> list[Path]:
    """CSV, NeXus/HDF5 with the recipe, a PNG plot, and the recipe as JSON."""
    import h5py
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    x, y, sigma = profile["x"], profile["y"], profile["sigma"]
    table = folder / "profile.csv"
    with table.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["x", "y", "sigma"])
        writer.writerows(zip(x, y, sigma, strict=True))
    nexus = folder / "profile.nxs"
    with h5py.File(nexus, "w") as f:
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        data = entry.create_group("data")
        data.attrs.update({"NX_class": "NXdata", "signal": "y", "axes": "x"})
        data["x"], data["y"], data["y_errors"] = x, y, sigma
        process = entry.create_group("process")
        process.attrs["NX_class"] = "NXprocess"
        process.attrs["program"] = "scizoo " + recipe["pipeline"]
        process.attrs["version"] = recipe["pipeline_version"]
        process.attrs["recipe"] = json.dumps(recipe, sort_keys=True)
    plot = folder / "profile.png"
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=80)
    ax.errorbar(x, y, yerr=sigma, fmt="o-", capsize=3)
    ax.set_xlabel("x")
    ax.set_ylabel("counts / monitor")
    fig.tight_layout()
    fig.savefig(plot)
    plt.close(fig)
    sidecar = folder / "recipe.json"
    sidecar.write_text(json.dumps(recipe, indent=2, sort_keys=True), encoding="utf-8")
    return [table, nexus, plot, sidecar]


def run(spec: dict[str, Any]) -> dict[str, Any]:
    pipeline = find_pipeline(spec["pipeline"])
    # (pid, path) of each input: a group reduction's scans, or the one scan.
    inputs = [(str(pid), Path(path)) for pid, path in spec.get("group") or []] or [(spec["input_pid"],
                                                                                  Path(spec["raw_path"]))]
    cache = ResultCache(Path(spec["cache_dir"]), int(spec.get("cache_max_bytes", 256 * 1024 * 1024)))
    raw: Path | list[Path] = [path for _, path in inputs] if spec.get("group") else inputs[0][1]
    done = run_pipeline(pipeline, raw, spec.get("params", {}), cache)
    final = pipeline.steps[-1].name
    recipe = {
        "pipeline": pipeline.name, "pipeline_version": pipeline.version,
        "steps": [{"name": s.name, "version": s.version, "key": done.keys[s.name]} for s in pipeline.steps],
        "params": spec.get("params", {}),
        "inputs": [{"pid": pid, "path": str(path), "sha1": sha1(path)} for pid, path in inputs],
        # The pipeline took a list of scans (a group reduction, even of one): how reproduce runs it again.
        "group": bool(spec.get("group")),
        # How the pipeline was named to the worker (a registered name or a module path): what
        # `scireduce reproduce` runs again.
        "pipeline_ref": spec["pipeline"],
        # Where it ran: this process's environment (a rule may name another Python environment),
        # and the runner that started it (set by the runner: subprocess, or which Dask worker).
        "environment": environment(),
        "runner": spec.get("runner") or {"kind": "subprocess"},
    }
    folder = Path(spec["out_dir"]) / done.keys[final][:16]
    files = write_outputs(folder, done.results[final], recipe)
    return {"executed": done.executed, "recipe": recipe, "folder": str(folder),
            "files": [{"path": str(p), "size": p.stat().st_size, "chk": sha1(p)} for p in files],
            "summary": {"points": sum(done.results[final].get("n", [])), "bins": len(done.results[final]["x"])}}


def _die_with_parent() -> None:
    """Be killed when the process that started this job dies (Linux): a runner killed with
    SIGKILL (a Dask worker, a scireduce worker) cannot kill its job, and a job left running
    would write its outputs while the job's re-run writes the same ones."""
    parent = os.environ.get(PARENT_VARIABLE, "")
    if not sys.platform.startswith("linux") or not parent.isdigit():
        return
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != int(parent):  # it died before the line above: nobody will signal us
        os._exit(137)


def main() -> None:
    _die_with_parent()
    spec = json.loads(sys.stdin.read())
    group = spec.get("group") or []
    print(f"running {spec['pipeline']} on {spec['raw_path']}" + (f" and {len(group) - 1} more scans" if group else ""),
          file=sys.stderr)
    result = run(spec)
    print(f"executed steps: {', '.join(result['executed']) or 'none (all cached)'}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

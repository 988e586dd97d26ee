"""What ran a job, on plain data: the provenance a job stores, the environment's lock hash, and
how ``scireduce reproduce`` compares arrays."""

from __future__ import annotations

import math

import numpy as np

from scireduce._provenance import environment, lock_hash
from scireduce._reproduce import compare_arrays
from scizoo.core import JobDocument, JobState, finish, job_provenance
from scizoo.core._jobs import new_job

RECIPE = {"pipeline": "profile", "pipeline_version": "1",
          "steps": [{"name": "load", "version": "2", "key": "k1"}, {"name": "bin", "version": "2", "key": "k2"}],
          "environment": {"python": "/usr/bin/python3", "lock": "sha256:ab", "image": "r/scizoo-reduce@sha256:cd"},
          "runner": {"kind": "dask", "scheduler": "tcp://s:8786", "worker": "tcp://w:1"}}


def test_a_succeeded_job_keeps_what_ran_it_and_reads_back_tolerantly() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 12, 5, tzinfo=UTC)
    job = new_job("p/1", "p", "profile", {}, now)
    done = job.changed(finish(now, "ok", derived="d/1", executed=["load"], log_tail=100,
                              provenance=job_provenance(RECIPE, scizoo="0.1.0")))
    stored = done.to_mongo()
    assert stored["provenance"]["steps"] == {"load": "2", "bin": "2"}
    assert stored["provenance"]["runner"]["worker"] == "tcp://w:1" and stored["provenance"]["scizoo"] == "0.1.0"
    # Another environment's newer scizoo may report more: kept, not refused.
    stored["provenance"]["gpu"] = "none"
    again = JobDocument.from_stored(stored)
    assert again.state == JobState.SUCCEEDED and again.provenance is not None
    assert again.provenance.environment["image"] == "r/scizoo-reduce@sha256:cd"
    assert finish(now, "ok", derived="d/1", executed=[], log_tail=10).keys() == {
        "state", "log", "endedAt", "updatedAt", "derived", "executed"}  # without it: as before


def test_the_environment_names_its_interpreter_packages_and_image(monkeypatch) -> None:
    assert lock_hash() == lock_hash() and lock_hash().startswith("sha256:") and len(lock_hash()) == 71
    monkeypatch.delenv("SCIZOO_IMAGE", raising=False)
    assert "image" not in environment()
    monkeypatch.setenv("SCIZOO_IMAGE", "registry/scizoo-reduce@sha256:00")
    found = environment()
    assert found["image"] == "registry/scizoo-reduce@sha256:00" and found["sys_version"]


def test_arrays_compare_bit_for_bit_by_default_and_within_a_tolerance_when_asked() -> None:
    y = np.array([0.1, 0.2, math.nan])
    assert compare_arrays({"d/y": y}, {"d/y": y.copy()}, atol=0, rtol=0) == {}  # NaN equals NaN
    off = y + np.array([0, 2**-40, 0])  # exactly representable: the difference is that number
    assert compare_arrays({"d/y": y}, {"d/y": off}, atol=0, rtol=0) == {
        "d/y": f"1 of 3 values differ (max |difference| {2**-40:g})"}
    assert compare_arrays({"d/y": y}, {"d/y": off}, atol=1e-9, rtol=0) == {}
    assert compare_arrays({"d/y": y}, {"d/y": y[:2]}, atol=1, rtol=1) == {"d/y": "shape (3,) in the file, (2,) made again"}
    assert compare_arrays({"d/y": y}, {"d/x": y}, atol=0, rtol=0) == {
        "d/x": "made again, not in the file", "d/y": "in the file, not made again"}

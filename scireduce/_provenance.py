"""What ran a job, pinned: the environment (interpreter, its packages' lock hash or the container
image). ``scireduce reproduce`` (:mod:`scireduce._reproduce`) compares with it.

The environment is described by the job's own process (:func:`environment`, called in
:mod:`scireduce._job`), so a rule that runs its job in another Python reports that one, not
the worker's. The lock hash is a sha256 of the sorted ``name==version`` of every distribution
the interpreter sees: what ``pip freeze`` would list, read through :mod:`importlib.metadata`
(no pip, no subprocess) — two environments with the same hash ran the same package versions.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from importlib import metadata
from typing import Any

#: Set in a container (the chart sets it from its image values; a facility's Dask workers
#: should set it too): the image the job ran in, ideally by digest (``repo@sha256:...``).
IMAGE_VARIABLE = "SCIZOO_IMAGE"


def lock_hash() -> str:
    """``sha256:<hex>`` of this interpreter's installed distributions (sorted ``name==version``)."""
    seen = sorted({f"{(d.metadata['Name'] or '').lower()}=={d.version}" for d in metadata.distributions()})
    return "sha256:" + hashlib.sha256("\n".join(seen).encode()).hexdigest()


def environment() -> dict[str, Any]:
    """This process's environment, for a job's recipe."""
    from scizoo import __version__

    found: dict[str, Any] = {"python": sys.executable, "python_version": platform.python_version(),
                             "sys_version": sys.version, "platform": platform.platform(), "lock": lock_hash(),
                             "scizoo": __version__}
    image = os.environ.get(IMAGE_VARIABLE, "").strip()
    if image:
        found["image"] = image
    return found

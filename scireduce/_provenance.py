"""What ran a job, pinned: the environment (interpreter, its packages' lock hash or the container
image). ``scireduce reproduce`` (:mod:`scireduce._reproduce`) compares with it.

The environment is described by the job's own process (:func:`environment`, called in
:mod:`scireduce._job`), so a rule that runs its job in another Python reports that one, not
the worker's. The lock hash is a sha256 of the sorted name and version of every distribution
installed in the interpreter's environment (what ``pip freeze`` would list; no pip, no
subprocess): two environments with the same hash ran the same package versions.
"""

from __future__ import annotations

import hashlib
import os
import platform
import site
import sys
import sysconfig
from typing import Any

#: Set in a container (the chart sets it from its image values; a facility's Dask workers
#: should set it too): the image the job ran in, ideally by digest (``repo@sha256:...``).
IMAGE_VARIABLE = "SCIZOO_IMAGE"


def lock_hash() -> str:
    """``sha256:<hex>`` of this environment's installed distributions: the sorted ``name-version``
    of every ``*.dist-info`` / ``*.egg-info`` in its site-packages (what ``pip freeze`` lists).

    Read from the folder names, not from each package's metadata file: a job pays this at every
    run, and parsing ~200 metadata files took 0.2 s here (a tenth of a job)."""
    folders = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    if site.ENABLE_USER_SITE:
        folders.add(site.getusersitepackages())
    seen: set[str] = set()
    for folder in folders:
        try:
            entries = os.scandir(folder)
        except OSError:
            continue
        with entries:
            seen.update(e.name.rsplit(".", 1)[0].lower() for e in entries if e.name.endswith((".dist-info", ".egg-info")))
    return "sha256:" + hashlib.sha256("\n".join(sorted(seen)).encode()).hexdigest()


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

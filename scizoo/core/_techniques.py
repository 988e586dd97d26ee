"""A beamline's experimental techniques, named as people name them ("XAS", "small angle x-ray
scattering") and written as SciCat's ``techniques`` hold them: a PaNET IRI and its name.

The PaN community's technique ontology (PaNET) is read from ``esrf-ontologies`` (its table of
IRIs and names; a well-kept package of the ESRF, MIT, no dependencies) rather than a copy of our
own. It lists the techniques synchrotrons use most, not all of PaNET: one it does not list is
given as ``{pid, name}`` with its PaNET IRI.
"""

from __future__ import annotations

import functools
from typing import Any

from ._messages import TechniqueRef


@functools.cache
def _panet() -> dict[str, TechniqueRef]:
    """Every name (lower case) and IRI of the table, to its technique."""
    from esrf_ontologies.db import load_techniques

    known: dict[str, TechniqueRef] = {}
    for entry in load_techniques("PaNET"):
        names = [str(n) for n in entry["names"]]
        # The written name: the first spelled out (acronyms come first in the table).
        name = next((n for n in names if " " in n and any(c.islower() for c in n)), names[0])
        technique = TechniqueRef(pid=entry["iri"], name=name)
        known[entry["iri"]] = technique
        known.update((n.lower(), technique) for n in names)
    return known


def panet_technique(given: Any) -> Any:
    """A technique named by text (a PaNET name, acronym or IRI) as ``{pid, name}``; anything
    else is handed on as given, for the model to validate. ValueError for an unknown name."""
    if not isinstance(given, str):
        return given
    found = _panet().get(given.strip()) or _panet().get(given.strip().lower())
    if found is None:
        raise ValueError(f"technique {given[:80]!r} is not a PaNET technique this table lists (a name such as "
                         "'XAS' or 'small angle x-ray scattering', or its PaNET IRI); one it does not list is "
                         "given as {pid: <its PaNET IRI>, name: <its name>}")
    return found.model_dump()

"""Write ``mathjs_units.json``: the ``unitSI`` and SI value the SciCat backend computes for units.

The backend's ``convertToSI`` (src/common/utils.ts) converts a value and unit with mathjs:
``unit(v, u).to(unit(u).toSI().toJSON().unit).toJSON()``; its unit-aware search compares
``unitSI`` as a string, so scizoo must spell it exactly so (``scizoo.core._units``). CI has no
mathjs, so the answers are computed here once, with the mathjs the backend installs, and checked
in (``tests/unit/test_units.py`` compares ours with them). Run it again on a newer backend::

    (cd /tmp/scicat && npm ci)   # a clone of SciCatProject/scicat-backend-next
    .venv/bin/python tests/unit/make_mathjs_units.py /tmp/scicat > tests/unit/mathjs_units.json

A unit mathjs cannot read is listed with ``null``: the backend then stores the value and unit
as given (``valueSI = value``, ``unitSI = unit``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

#: Units met at beamlines, in the spellings people type (mathjs writes powers as ``^`` only).
UNITS = ["eV", "keV", "meV", "J", "kWh", "K", "mK", "degC", "degF", "m", "mm", "um", "nm", "angstrom", "kg", "g",
         "s", "ms", "us", "min", "h", "Hz", "kHz", "1/s", "1/m", "A", "mA", "V", "kV", "W", "mW", "T", "mT", "ohm",
         "C", "N", "Pa", "kPa", "mbar", "bar", "torr", "deg", "rad", "mrad", "rad/s", "m/s", "mm/s", "m/s^2", "m^3",
         "L", "mL", "mol", "mol/L", "cd", "A/m^2", "bit", "byte", "%", "count", "sr", "ppm", "Gy"]

SCRIPT = """
const { unit } = require("mathjs");
const out = {};
for (const u of JSON.parse(process.argv[1])) {
  try {
    const q = unit(1, u).to(unit(u).toSI().toJSON().unit).toJSON();
    out[u] = {unitSI: q.unit, valueSI: Number(q.value)};
  } catch (e) { out[u] = null; }
}
console.log(JSON.stringify(out));
"""


def main(backend: Path) -> None:
    version = json.loads((backend / "node_modules" / "mathjs" / "package.json").read_text())["version"]
    ran = subprocess.run(["node", "-e", SCRIPT, json.dumps(UNITS)], cwd=backend, capture_output=True, text=True,
                         check=True)
    print(json.dumps({"mathjs": version, "units": json.loads(ran.stdout)}, indent=1, sort_keys=True))


if __name__ == "__main__":
    main(Path(sys.argv[1]))

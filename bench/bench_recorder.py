"""Recorder overhead: a 100-point ascan with and without ScizooRecorder, in the same run.

Starts a real Sardana (Tango database on sqlite, Pool, MacroServer, Door; see RECIPES.md)
with the scizoo recorder on its RecorderPath, real tansu and the simulated beamline's
devices, then alternates scans with DataRecorder = [] and ["ScizooRecorder"] and prints
the median wall time of each (as seen by the Door's client) and the difference.

Run: .venv/bin/python bench/bench_recorder.py [rounds]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import scifish
from scifish.testing import SimulatedBeamline, demo_devices
from scizoo.testing import EmbeddedKafka
from tests.sardana.lab import SardanaLab
from tests.system.test_sardana_scan import SETUP


def main(rounds: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-recorder-"))
    with EmbeddedKafka() as kafka, SimulatedBeamline(demo_devices("20240001", str(tmp) + "/")) as beamline:
        env = {
            "SCIFISH_KAFKA_BOOTSTRAP": kafka.bootstrap_servers,
            "SCIFISH_TOPIC_PREFIX": "bench",
            "SCIFISH_SPOOL_DIR": str(tmp / "spool"),
            "SCIFISH_CONFIG_FILE": str(ROOT / "config" / "beamlines" / "sim.yaml"),
            "SCIFISH_DEVICE_ADDRESSES": json.dumps(beamline.addresses),
        }
        (tmp / "lab").mkdir()
        with SardanaLab(tmp / "lab", env, scifish.RECORDER_PATH) as lab:
            lab.run(SETUP)
            times: dict[str, list[float]] = {"without": [], "with": []}
            plan = []
            for _ in range(rounds):
                for name, recorders in (("without", []), ("with", ["ScizooRecorder"])):
                    plan.append({"env": {"ActiveMntGrp": "mntgrp01", "ScanDir": str(tmp), "ScanFile": [],
                                         "DataRecorder": recorders},
                                 "macros": [["ascan", ["mot01", "0", "10", "99", "0.01"]]], "label": name})
            for step in plan:
                (result,) = lab.run({"env": step["env"], "macros": step["macros"]})
                times[step["label"]].append(result["seconds"])
    without, with_ = statistics.median(times["without"]), statistics.median(times["with"])
    print(f"100-point ascan, {rounds} rounds, median wall time of runMacro at the Door's client:")
    print(f"  without recorder {without:6.2f} s   with ScizooRecorder {with_:6.2f} s   "
          f"difference {100 * (with_ - without) / without:+.1f} %")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)

"""The Sardana recorder driven through Sardana's real RecordList and DataHandler (no server).

The recorder class is loaded from its file, as the MacroServer loads it from RecorderPath.
Kafka, the store and the Tango devices are real.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("sardana", reason="the [sardana] extra is part of `make test`")

from sardana.macroserver.scan.gscan import ScanEndStatus
from sardana.macroserver.scan.recorder import DataHandler
from sardana.macroserver.scan.scandata import ColumnDesc, MoveableDesc, RecordList

import scifish
from scizoo.core import DATASET_COLLECTION, ScanMetadata, beamline_topic
from tests.helpers import read_topic, wait_for


def _recorder_class() -> type:
    path = Path(scifish.RECORDER_PATH) / "scizoo_recorder.py"
    spec = importlib.util.spec_from_file_location("scizoo_recorder_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.ScizooRecorder


class FakeMacro:
    """The two things a recorder asks of its macro: environment and output."""

    def __init__(self, env: dict[str, Any] | None = None) -> None:
        self.env = env or {}
        self.warnings: list[str] = []

    def getEnv(self, name: str) -> Any:
        if name not in self.env:
            raise KeyError(name)
        return self.env[name]

    def warning(self, text: str, *args: Any) -> None:
        self.warnings.append(text % args if args else text)


class Moveable:
    instrument = ""

    def __init__(self, name: str) -> None:
        self._name = name

    def getName(self) -> str:
        return self._name


def _environ(scan_dir: Path, serial: int) -> dict[str, Any]:
    (scan_dir / "scan.dat").write_text("#S 1 ascan\n1 2 3\n")
    return {
        "serialno": serial,
        "title": "ascan mot01 0.0 10.0 4 0.1",
        "user": "grace",
        "starttime": datetime.now(),
        "ScanDir": str(scan_dir),
        "ScanFile": ["scan.dat"],
        "macro_id": f"macro-{serial}",
        "counters": ["tango://host:10000/expchan/ctctrl01/1", "tango://host:10000/expchan/ctctrl01/2"],
        "ref_moveables": ["mot01"],
        "datadesc": [
            ColumnDesc(name="point_nb", label="#Pt No", dtype="int64"),
            MoveableDesc(moveable=Moveable("mot01"), is_reference=True),
            ColumnDesc(name="tango://host:10000/expchan/ctctrl01/1", label="ct01", data_units="counts"),
            ColumnDesc(name="tango://host:10000/expchan/ctctrl01/2", label="ct02"),
            ColumnDesc(name="timestamp", label="dt"),
        ],
    }


def run_scan(recorder: Any, env: dict[str, Any], points: int, endstatus: int = ScanEndStatus.Normal) -> None:
    handler = DataHandler()
    handler.addRecorder(recorder)
    records = RecordList(handler, environ=env)
    records.start()
    for n in range(points):
        records.addRecord({
            "point_nb": n,
            "mot01": 2.5 * n,
            "tango://host:10000/expchan/ctctrl01/1": 100.0 + n,
            "tango://host:10000/expchan/ctctrl01/2": 7.0,
            "timestamp": 0.1 * n,
        })
    records.setEnvironValue("endstatus", endstatus)
    records.setEnvironValue("endtime", datetime.now())
    records.end()


@pytest.fixture()
def recorder_env(monkeypatch, kafka, sim_beamline, prefix, tmp_path):
    monkeypatch.setenv("SCIFISH_KAFKA_BOOTSTRAP", kafka.bootstrap_servers)
    monkeypatch.setenv("SCIFISH_TOPIC_PREFIX", prefix)
    monkeypatch.setenv("SCIFISH_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("SCIFISH_CONFIG_FILE", str(Path(__file__).parents[2] / "config" / "beamlines" / "sim.yaml"))
    monkeypatch.setenv("SCIFISH_DEVICE_ADDRESSES", json.dumps(sim_beamline.addresses))
    monkeypatch.setenv("SCIFISH_SEND_TIMEOUT_S", "2")
    yield tmp_path
    from scifish._recorder import shared_worker

    shared_worker().close()


def test_a_scan_sends_running_then_final_and_the_dataset_is_updated(recorder_env, kafka, scicow, db, prefix) -> None:
    scicow()
    macro = FakeMacro()
    recorder = _recorder_class()(macro=macro)
    run_scan(recorder, _environ(recorder_env, 42), points=5)
    values = read_topic(kafka.bootstrap_servers, beamline_topic(prefix, "sim"), expected=2)
    running, final = (ScanMetadata.model_validate_json(v) for v in values)
    assert (running.scan.status, final.scan.status) == ("running", "finished")
    assert running.message_id == final.message_id == "sim/sardana/macro-42"
    assert final.scan.id == "42" and final.scan.points == 5 and final.scan.user == "grace"
    assert final.scan.end is not None and final.scan.end.tzinfo is not None
    assert [(c.label, c.first, c.last) for c in final.scan.motors] == [("mot01", 0.0, 10.0)]
    by_label = {c.label: c for c in final.scan.channels}
    assert by_label["ct01"].name == "tango://host:10000/expchan/ctctrl01/1"
    assert (by_label["ct01"].min, by_label["ct01"].max, by_label["ct01"].unit) == (100.0, 104.0, "counts")
    assert [f.path for f in final.scan.files] == [str(recorder_env / "scan.dat")]
    assert final.scan.files[0].size > 0
    assert final.proposal_id == "20240001"
    assert {e.name for e in final.entries} >= {"sample_x", "shutter", "photon_energy"}
    assert macro.warnings == []

    datasets = db[DATASET_COLLECTION]
    wait_for(lambda: datasets.count_documents({"scientificMetadata.scan_status.value": "finished"}) == 1,
             what="the finished dataset")
    assert datasets.count_documents({}) == 1
    doc = datasets.find_one()
    meta = doc["scientificMetadata"]
    assert meta["channel_ct01"]["value"] == 104.0 and meta["channel_ct01"]["unit"] == "counts"
    assert meta["motor_mot01"]["value"] == [0.0, 10.0]
    assert meta["scan_user"]["value"] == "grace"
    assert doc["numberOfFiles"] == 1


@pytest.mark.parametrize(("endstatus", "expected"), [(ScanEndStatus.Abort, "aborted"),
                                                     (ScanEndStatus.Exception, "failed"),
                                                     (ScanEndStatus.Stop, "aborted")])
def test_a_scan_that_does_not_end_normally_says_so(recorder_env, kafka, prefix, endstatus, expected) -> None:
    recorder = _recorder_class()(macro=FakeMacro())
    run_scan(recorder, _environ(recorder_env, 7), points=2, endstatus=endstatus)
    values = read_topic(kafka.bootstrap_servers, beamline_topic(prefix, "sim"), expected=2)
    assert [ScanMetadata.model_validate_json(v).scan.status for v in values] == ["running", expected]


def test_a_broken_configuration_warns_and_never_raises_into_the_scan(recorder_env, tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"beamline": "no spaces allowed here"}))
    macro = FakeMacro({"ScizooConfigFile": str(bad)})
    recorder = _recorder_class()(macro=macro)
    run_scan(recorder, _environ(recorder_env, 3), points=3)  # must not raise
    assert len(macro.warnings) == 1
    assert "will not be captured" in macro.warnings[0] and "bad.yaml" in macro.warnings[0]


def test_kafka_unreachable_spools_both_messages_in_order(monkeypatch, recorder_env) -> None:
    from scizoo.testing import free_port

    monkeypatch.setenv("SCIFISH_KAFKA_BOOTSTRAP", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("SCIFISH_SEND_TIMEOUT_S", "0.5")
    macro = FakeMacro()
    recorder = _recorder_class()(macro=macro)
    run_scan(recorder, _environ(recorder_env, 9), points=3)
    from scifish._recorder import shared_worker

    assert shared_worker().join(timeout=30)
    spooled = (recorder_env / "spool" / "spool.jsonl").read_text().splitlines()
    statuses = [ScanMetadata.model_validate_json(base64.b64decode(json.loads(s)["value"])).scan.status
                for s in spooled]
    assert statuses == ["running", "finished"]

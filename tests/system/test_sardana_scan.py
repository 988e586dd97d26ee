"""A real ascan through a Door of a real Sardana, with our recorder loaded from RecorderPath.

About 15 s to start Sardana (Tango database on sqlite, Pool, MacroServer, Door), then
two scans: one with Kafka up, one with Kafka down during the whole scan.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

pytest.importorskip("sardana", reason="the [sardana] extra is part of `make test`")

import scifish
from scizoo.core import DATASET_COLLECTION
from scizoo.testing import EmbeddedKafka
from tests.helpers import ROOT, wait_for
from tests.sardana.lab import SardanaLab

pytestmark = pytest.mark.system

SETUP = {"macros": [
    ["defctrl", ["DummyMotorController", "motctrl01"]],
    ["defelem", ["mot01", "motctrl01", "1"]],
    ["defctrl", ["DummyCounterTimerController", "ctctrl01"]],
    ["defelem", ["ct01", "ctctrl01", "1"]],
    ["defelem", ["ct02", "ctctrl01", "2"]],
    ["defmeas", ["mntgrp01", ["ct01", "ct02"]]],
]}


def _scan_plan(scan_dir: Path, name: str) -> dict:
    return {
        "env": {"ActiveMntGrp": "mntgrp01", "ScanDir": str(scan_dir), "ScanFile": [f"{name}.dat"],
                "DataRecorder": ["ScizooRecorder"]},
        "macros": [["ascan", ["mot01", "0", "10", "5", "0.1"]]],
    }


def test_real_ascans_reach_the_catalogue_even_with_kafka_down(
    sim_beamline, scicow_settings, db, prefix, tmp_path
) -> None:
    from scicow import run

    broker = EmbeddedKafka()
    broker.start()
    settings = scicow_settings.model_copy(update={"kafka_bootstrap": broker.bootstrap_servers})
    env = {
        "SCIFISH_KAFKA_BOOTSTRAP": broker.bootstrap_servers,
        "SCIFISH_TOPIC_PREFIX": prefix,
        "SCIFISH_SPOOL_DIR": str(tmp_path / "spool"),
        "SCIFISH_CONFIG_FILE": str(ROOT / "config" / "beamlines" / "sim.yaml"),
        "SCIFISH_DEVICE_ADDRESSES": json.dumps(sim_beamline.addresses),
        "SCIFISH_SEND_TIMEOUT_S": "1",
    }
    datasets = db[DATASET_COLLECTION]
    stop = threading.Event()
    consumer = threading.Thread(target=run, args=(settings, stop), daemon=True)
    lab_dir = tmp_path / "lab"
    lab_dir.mkdir()
    try:
        with SardanaLab(lab_dir, env, scifish.RECORDER_PATH) as lab:
            lab.run(SETUP)
            consumer.start()

            # 1. Kafka up: the scan appears, then is updated to finished (one dataset).
            result = lab.run(_scan_plan(tmp_path, "first"))
            assert [(r["macro"], r["state"]) for r in result] == [("ascan", "DevState.ON")]
            wait_for(lambda: datasets.count_documents({"scientificMetadata.scan_status.value": "finished"}) == 1,
                     what="the first scan's finished dataset")
            doc = datasets.find_one()
            meta = doc["scientificMetadata"]
            assert meta["scan_points"]["value"] == 6
            assert meta["motor_mot01"]["value"] == [0.0, 10.0]
            assert {"channel_ct01", "channel_ct02"} <= set(meta)
            assert meta["scan_source"]["value"] == "sardana"
            assert meta["sample_temperature_end"]["unit"] == "K" and "error" not in meta["sample_temperature_end"]
            assert doc["description"].startswith("ascan mot01 0.0 10.0 5 0.1")
            assert doc["proposalIds"] == ["20240001"]
            assert doc["numberOfFiles"] == 1 and doc["size"] > 0  # Sardana's own SPEC file

            # 2. Kafka down for the whole scan: the scan still completes normally...
            stop.set()
            consumer.join(20)
            broker.stop()
            result = lab.run(_scan_plan(tmp_path, "second"))
            assert [(r["macro"], r["state"]) for r in result] == [("ascan", "DevState.ON")]
            # ...its messages wait in the spool on disk...
            spool = tmp_path / "spool" / "spool.jsonl"
            wait_for(lambda: spool.exists() and len(spool.read_text().splitlines()) >= 2, timeout=30,
                     what="the scan's messages in the spool")
            # ...and arrive once Kafka is back.
            broker.start()
            stop.clear()
            consumer = threading.Thread(target=run, args=(settings, stop), daemon=True)
            consumer.start()
            wait_for(lambda: datasets.count_documents({"scientificMetadata.scan_status.value": "finished"}) == 2,
                     timeout=90, what="the second scan, sent after Kafka returned")
            assert datasets.count_documents({}) == 2
    finally:
        stop.set()
        consumer.join(20)
        broker.stop()

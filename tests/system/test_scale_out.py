"""Scale-out on the local broker: two scicow processes in one group share the partitions;
one SIGKILLed mid-stream, the other takes its partitions over; nothing lost, nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from scizoo.core import DATASET_COLLECTION
from tests.helpers import PID_PREFIX, wait_for
from tests.system.test_pipeline import _message, _produce

pytestmark = pytest.mark.system


def test_two_members_share_the_work_and_one_survives_the_other(kafka, mongo, scicow_settings, db, prefix) -> None:
    total = 400
    _produce(kafka.bootstrap_servers, prefix, [_message(n) for n in range(20)])  # the topic exists before the joins
    env = {**os.environ, "SCICOW_KAFKA_BOOTSTRAP": kafka.bootstrap_servers, "SCICOW_TOPIC_PREFIX": prefix,
           "SCICOW_GROUP_ID": scicow_settings.group_id, "SCICOW_MONGO_URI": mongo.uri, "SCICOW_DATABASE": db.name,
           "SCICOW_PID_PREFIX": PID_PREFIX, "SCICOW_BATCH_MAX": "10", "SCICOW_MAX_POLL_INTERVAL_MS": "3000",
           "SCICOW_SESSION_TIMEOUT_MS": "6000", "SCICOW_HEARTBEAT_INTERVAL_MS": "1000"}
    cmd = [sys.executable, "-m", "scizoo.cli", "scicow", "run"]
    members = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    datasets = db[DATASET_COLLECTION]
    try:
        wait_for(lambda: datasets.count_documents({}) >= 20, timeout=60, what="the first scans")
        time.sleep(8)  # both members in the group, partitions shared
        _produce(kafka.bootstrap_servers, prefix, [_message(n) for n in range(20, total)])
        wait_for(lambda: datasets.count_documents({}) >= 60, timeout=60, what="part of the stream")
        members[0].send_signal(signal.SIGKILL)
        members[0].wait()
        assert datasets.count_documents({}) < total, "killed too late to test a take-over"
        wait_for(lambda: datasets.count_documents({}) >= total, timeout=120, what="every scan after the kill")
    finally:
        for member in members:
            if member.poll() is None:
                member.terminate()
                member.wait(30)
    assert datasets.count_documents({}) == total
    assert len(datasets.distinct("_id")) == total

"""No scan is lost or catalogued twice when the broker, scicow or the store fails, or the input is hostile.

Small versions of ``bench/bench_faults.py`` (scenarios a-c) and ``bench/bench_hostile.py``:
the same code, run on real parts (tansu, SecantusDB, ``scicow run`` subprocesses, Tango
devices), with sizes that keep each test well under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.bench_faults import Row, broker_kill, scicow_kills, store_outage
from bench.bench_hostile import Outcome, hostile_run
from scizoo.testing import EmbeddedKafka, EmbeddedMongo

pytestmark = pytest.mark.system

#: Joins take up to the rebalance timeout: short ones here, as in the other system tests.
FAST_GROUP = {"max_poll_interval_ms": 3000, "session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}


@pytest.fixture(scope="module")
def broker_killed(mongo: EmbeddedMongo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Row]:
    """100 scans captured from Tango through a SpoolingProducer; the broker SIGKILLed at a
    random scan, down 3 s while capture goes on, then started again on the same port."""
    # Caught up within 120 s of the restart: tansu's start, scicow's re-join and the spool's delivery
    # took 20-35 s here alone (bench a at 1,000 scans: 20.6 s). In whole-suite runs scicow went
    # silent for 2 minutes after the restart, most likely in an unbounded kafka-python wait (a lag
    # measurement's position(), a commit: now bounded, see scizoo.ops.kafka_records.COMMIT_TIMEOUT_MS);
    # if it stalls again the note carries its threads' stacks. Wedged, as before finding 1, it
    # never catches up.
    yield broker_kill(tmp_path_factory.mktemp("broker"), scans=100, down_s=3.0, send_timeout_s=1.0, stall_s=120.0,
                      seed=11, mongo=mongo, timeout_s=60.0)


def test_a_broker_killed_during_capture_loses_and_duplicates_nothing(broker_killed: Row) -> None:
    row = broker_killed
    assert row.lost == 0, row.notes
    assert row.duplicates == 0, row.notes
    # The only scans allowed to be missing are those the killed broker had acknowledged and
    # kept in memory (tansu): a real Kafka keeps them on disk.
    assert row.found == row.sent - row.broker_lost, row.notes


def test_a_scicow_catches_up_after_a_broker_restart_without_being_restarted(broker_killed: Row) -> None:
    # It used to stay wedged: its producer answered every send with an InitProducerId
    # UnknownError until scicow was restarted (docs/reliability.md, finding 1).
    assert not broker_killed.stalled, "\n".join(broker_killed.notes)  # whole: it carries scicow's stacks


def test_b_scicow_sigkilled_twice_ingests_every_message_once(kafka: EmbeddedKafka, mongo: EmbeddedMongo,
                                                             tmp_path: Path) -> None:
    row = scicow_kills(tmp_path, messages=300, kills=2, batch_max=20, seed=12, group_timing=FAST_GROUP,
                       kafka=kafka, mongo=mongo, timeout_s=50.0)
    assert (row.sent, row.found, row.duplicates, row.lost) == (300, 300, 0, 0), row.notes
    assert row.checks_ok, row.notes  # both kills happened mid-stream


def test_c_a_store_outage_of_5_s_loses_and_duplicates_nothing(kafka: EmbeddedKafka, tmp_path: Path) -> None:
    row = store_outage(tmp_path, messages=200, outage_s=5.0, batch_max=20, kafka=kafka, timeout_s=40.0)
    assert (row.sent, row.found, row.duplicates, row.lost) == (200, 200, 0, 0), row.notes
    assert row.checks_ok, row.notes  # scicow kept running


def test_hostile_messages_are_each_set_aside_with_a_reason_and_every_good_one_is_ingested(
    kafka: EmbeddedKafka, mongo: EmbeddedMongo, prefix: str
) -> None:
    out: Outcome = hostile_run(kafka.bootstrap_servers, mongo.uri, good=100, bad=200, huge=2, seed=13,
                               timeout_s=45.0, tag=prefix)
    c = out.check
    assert (c.good_sent, c.good_found, c.duplicates, c.lost, c.good_dead_lettered) == (100, 100, 0, 0, 0)
    assert c.bad_sent + c.quarantine_sent == 200
    assert c.dead_lettered == c.bad_sent and c.missing_letters == 0 and c.extra_letters == 0
    assert c.without_reason == 0
    assert c.quarantined == c.quarantine_sent > 0
    assert all(dead == sent and reason for sent, dead, reason in c.per_kind.values()), c.per_kind
    assert out.clean.error is None and out.hostile.error is None

"""scicow's guard against a group member left with a subscription and no assignment."""

from __future__ import annotations

from kafka.structs import TopicPartition

from scicow import AssignmentWatch


def test_only_a_lasting_empty_assignment_counts_as_stuck() -> None:
    now = [0.0]
    watch = AssignmentWatch(grace_s=10, clock=lambda: now[0])
    assigned = {TopicPartition("p.sim", 0)}
    assert not watch.stuck(set(), set())  # nothing subscribed yet: nothing to get
    assert not watch.stuck({"p.sim"}, set())  # starts the clock
    now[0] = 9
    assert not watch.stuck({"p.sim"}, set())
    now[0] = 11
    assert watch.stuck({"p.sim"}, set())
    assert not watch.stuck({"p.sim"}, set())  # reported once, then the clock restarts
    now[0] = 30
    assert not watch.stuck({"p.sim"}, assigned)  # an assignment resets it
    now[0] = 35
    assert not watch.stuck({"p.sim"}, set())

"""scicow's guard against a group member left with a subscription and no assignment."""

from __future__ import annotations

from kafka.structs import TopicPartition

from scicow import AssignmentWatch


def test_only_a_lasting_empty_assignment_counts_as_stuck() -> None:
    now = [0.0]
    watch = AssignmentWatch(grace_s=10, clock=lambda: now[0], settle_s=1000)  # the long grace alone
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


def test_a_changed_subscription_that_assigns_nothing_rejoins_soon() -> None:
    now = [0.0]
    watch = AssignmentWatch(grace_s=60, clock=lambda: now[0], settle_s=3)
    old = {TopicPartition("p.sim", 0)}
    assert not watch.stuck({"p.sim"}, old)
    now[0] = 10
    assert not watch.stuck({"p.sim", "p.new"}, old)  # a new beamline topic: a join starts
    now[0] = 12
    assert not watch.stuck({"p.sim", "p.new"}, old)
    now[0] = 13.5
    assert watch.stuck({"p.sim", "p.new"}, old)  # nothing moved in 3 s: re-join now, not in 60 s
    now[0] = 20
    assert not watch.stuck({"p.sim", "p.new"}, old)  # once


def test_a_changed_subscription_whose_join_takes_effect_is_left_alone() -> None:
    now = [0.0]
    watch = AssignmentWatch(grace_s=60, clock=lambda: now[0], settle_s=3)
    assert not watch.stuck({"p.sim"}, set())
    now[0] = 1
    assert not watch.stuck({"p.sim"}, {TopicPartition("p.sim", 1)})
    now[0] = 10
    assert not watch.stuck({"p.sim"}, {TopicPartition("p.sim", 1)})

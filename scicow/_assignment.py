"""Which partitions this member holds: a join kafka-python lost, and rewinding a batch's partitions."""

from __future__ import annotations

import time
from collections.abc import Callable

from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import TopicPartition

#: What one poll returned: records per partition.
Polled = dict[TopicPartition, list[ConsumerRecord]]


class AssignmentWatch:
    """Notices a group member that is subscribed to topics but never gets a partition.

    kafka-python 3.0.12 can finish a rebalance without applying its assignment: when a
    poll times out while a JoinGroup is in flight and the join was caused by a changed
    subscription (a new beamline topic matching the pattern), the finished join is never
    picked up and the consumer fetches nothing, forever. Seen in 6 of 8 tries against
    tansu. Re-subscribing starts a clean join. A member of a group with more members than
    partitions also gets nothing, so the grace period is long and the re-join is logged.
    """

    def __init__(self, grace_s: float, clock: Callable[[], float] = time.monotonic, *,
                 settle_s: float = 3.0) -> None:
        self.grace_s = grace_s
        #: After the subscription changed (a new beamline topic appeared), how long a join may
        #: take before the member re-joins: the bug's usual trigger, so it is looked at first
        #: (measured: the first scan of a new topic waited 19 s on the long grace alone).
        self.settle_s = settle_s
        self._clock = clock
        self._since: float | None = None
        self._subscription: frozenset[str] = frozenset()
        self._changed: tuple[float, frozenset[TopicPartition]] | None = None

    def stuck(self, subscription: set[str] | None, assignment: set[TopicPartition]) -> bool:
        now = self._clock()
        topics = frozenset(subscription or ())
        if topics != self._subscription:
            self._subscription = topics
            self._changed = (now, frozenset(assignment)) if topics else None
        if self._changed_without_effect(now, topics, assignment):
            self._changed = self._since = None
            return True
        if not topics or assignment:
            self._since = None
            return False
        if self._since is None:
            self._since = now
            return False
        if now - self._since < self.grace_s:
            return False
        self._since = None
        return True

    def _changed_without_effect(self, now: float, topics: frozenset[str], assignment: set[TopicPartition]) -> bool:
        """The subscription changed ``settle_s`` ago and the assignment has not moved since,
        while some subscribed topic has no partition here: the join was lost."""
        if self._changed is None:
            return False
        when, before = self._changed
        if frozenset(assignment) != before:
            self._changed = None  # the join took effect
            return False
        uncovered = topics - {tp.topic for tp in assignment}
        return bool(uncovered) and now - when >= self.settle_s


def rewind(consumer: KafkaConsumer, *batches: Polled) -> None:
    """Seek each partition back to the first offset any of the batches held for it."""
    first: dict[TopicPartition, int] = {}
    for batch in batches:
        for tp, recs in batch.items():
            if recs:
                first[tp] = min(first.get(tp, recs[0].offset), recs[0].offset)
    for tp, offset in first.items():
        consumer.seek(tp, offset)

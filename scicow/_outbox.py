"""What scicow itself sends to Kafka: the "dataset ingested" events and the dead letters.

A batch is done only once Kafka has acknowledged all of them. When it has not, the broker
is the problem, not the records: the batch is retried (transient), never taken apart and
dead-lettered. The one exception is a record Kafka refuses for its size, which is that
record's own problem and is left to the caller to set aside.

A producer that failed is closed and a new one made for the retry: after a broker restart
kafka-python's producer can stay wedged (every send answered ``Unexpected error in
InitProducerIdResponse: UnknownError``) until it is replaced (docs/reliability.md, finding 1).

Two threads send through one Outbox: the writer (each batch's events and dead letters) and the
quarantine re-drive. A lock makes each send, with the replacing of its producer, one step: two
threads never both open a producer (one would be leaked), and none sends on a producer another
just closed. Sends are short and the re-drive rare, so they wait for each other rather than
share a producer that may be closed under them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError

from scizoo.core import DependencyUnavailable

logger = logging.getLogger(__name__)

#: How long one batch's sends may wait for Kafka's acknowledgement.
KAFKA_ACK_TIMEOUT_S = 30.0

#: Refused because of this record's size: retrying the same record can never succeed.
_RECORD_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError)

#: (topic, key, value)
Outgoing = tuple[str, bytes | None, bytes]


class BrokerAway(ConnectionError):
    """Kafka did not take scicow's own records; retry the batch (a ConnectionError: transient)."""


class Outbox:
    """Sends records and waits for every acknowledgement, replacing a producer that failed."""

    def __init__(self, producer: KafkaProducer | None, reopen: Callable[[], KafkaProducer] | None = None) -> None:
        self._producer = producer
        self._reopen = reopen
        self._lock = threading.Lock()

    def send(self, records: Sequence[Outgoing]) -> None:
        """Return once Kafka has every record; raise :class:`BrokerAway` (transient) or, for a
        record Kafka refuses for its size, that error."""
        if not records:
            return
        with self._lock:
            self._send(records)

    def _send(self, records: Sequence[Outgoing]) -> None:
        producer = self._current()
        try:
            futures = [producer.send(topic, key=key, value=value) for topic, key, value in records]
            for future in futures:
                future.get(timeout=KAFKA_ACK_TIMEOUT_S)
        except _RECORD_TOO_LARGE:
            raise
        except KafkaError as err:
            self._drop(err)
            raise BrokerAway(f"Kafka did not acknowledge {len(records)} record(s): {type(err).__name__}: {err}") from err

    def close(self, timeout_s: float = 5.0) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            producer.close(timeout=timeout_s)

    def _current(self) -> KafkaProducer:
        if self._producer is None:
            if self._reopen is None:
                raise BrokerAway("the Kafka producer failed earlier and cannot be replaced here")
            try:
                self._producer = self._reopen()
            except DependencyUnavailable as err:
                raise BrokerAway(str(err)) from err
            logger.info("a new Kafka producer replaces the one that failed")
        return self._producer

    def _drop(self, err: KafkaError) -> None:
        """Close a producer that failed, so that the retry starts with a new one."""
        if self._reopen is None:
            return  # the caller owns it and cannot give another: keep it
        producer, self._producer = self._producer, None
        logger.warning("closing the Kafka producer after %s; the batch is retried with a new one", type(err).__name__)
        if producer is not None:
            try:
                producer.close(timeout=1)
            except Exception as close_err:  # noqa: BLE001 - a wedged client may fail to close too; it is dropped anyway
                logger.debug("closing the failed producer: %s", close_err)

"""Transient or permanent: what decides whether scicow retries a batch or sets a record aside."""

from __future__ import annotations

from kafka.errors import KafkaError, RetriableError
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    ConnectionFailure,
    ExecutionTimeout,
    NetworkTimeout,
    WriteConcernError,
)

#: The store or the broker is away or slow: pause, do not commit, retry the same records.
_TRANSIENT: tuple[type[BaseException], ...] = (
    # pymongo: no server, connection lost, slow (ServerSelectionTimeoutError is a ConnectionFailure)
    AutoReconnect, ConnectionFailure, NetworkTimeout, ExecutionTimeout, WriteConcernError,
    # kafka-python: the errors it marks retriable (connection, timeouts, leaders, replicas)
    RetriableError,
    # the standard library's (a future's timeout, a socket)
    TimeoutError, ConnectionError,
)


def is_transient(err: BaseException) -> bool:
    """True when retrying the same records later may succeed (a service is away), False when
    the records themselves are the problem and retrying would stall ingestion forever."""
    if isinstance(err, _TRANSIENT):
        return True
    # A bulk write the store applied but could not make as durable as asked (a replica away,
    # wtimeout): it is not durable yet, so nothing may be committed; the same writes again
    # are harmless (keyed by pid, guarded by message time).
    if isinstance(err, BulkWriteError) and err.details.get("writeConcernErrors"):
        return True
    # Broker errors carry a `retriable` flag of their own.
    return isinstance(err, KafkaError) and bool(getattr(err, "retriable", False))

"""A Kafka producer that never loses a message: what Kafka cannot take goes to a local spool.

The spool is an append-only file of JSON lines, fsync'd on every append, plus a file
holding how many of its lines have been dealt with (also fsync'd). A background thread,
and the next start, send the pending lines in order; while anything is pending, new
messages queue behind it so the order on a topic is the order of capture.

What can never reach Kafka does not hold the rest up: a record Kafka refuses for what it
is (too large, a topic it may not or cannot be written to) and a spool line that cannot be
read back (torn by a crash, or garbage) go to ``deadletter.jsonl`` beside the spool, for a
person to look at, and the lines after them flow. A spool that cannot be written (a full
disk) is an error at capture, never a silent drop. One process owns a spool folder.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Literal

from kafka import KafkaProducer
from kafka import errors as kafka_errors
from kafka.errors import KafkaError

from ._spool import Record, Spool, SpoolError, Torn

logger = logging.getLogger(__name__)

#: What became of a message: delivered, kept in the spool for later, or refused by Kafka
#: for good (set aside in the dead-letter file). Anything but "sent" and "spooled" is a
#: problem a person has to look at.
Outcome = Literal["sent", "spooled", "refused"]

# The broker (or the client's own check before sending) refuses these for what the record
# is: sending it again, or from a fresh client, cannot help. Not every non-retriable
# kafka-python error is such: UnknownProducerIdError after a broker restart, a cluster-wide
# authorisation or SASL failure, or a bare KafkaError concern the producer, not the record,
# and dead-lettering on them would empty a healthy spool into the dead-letter file.
_REFUSALS: tuple[type[Exception], ...] = (
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordListTooLargeError,
    kafka_errors.InvalidTopicError,
    kafka_errors.TopicAuthorizationFailedError,
    kafka_errors.CorruptRecordError,
    kafka_errors.InvalidRecordError,
    kafka_errors.InvalidTimestampError,
    kafka_errors.PolicyViolationError,
    kafka_errors.UnsupportedForMessageFormatError,
)


def is_refusal(err: BaseException) -> bool:
    """Whether Kafka refuses the record for good (dead-letter it) rather than for now (retry).

    kafka-python raises ValueError and TypeError from ``send`` for a record it will never
    send (an illegal topic name), so those count as refusals too.
    """
    return isinstance(err, (*_REFUSALS, ValueError, TypeError))


def _reason(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


class SpoolingProducer:
    """Produce with ``acks=all``; spool to disk when Kafka cannot take the message.

    Parameters
    ----------
    bootstrap_servers
        Kafka bootstrap servers.
    spool_dir
        Folder of the spool; pending messages found there at start are sent first. One
        process at a time may use it (:class:`SpoolError` otherwise).
    send_timeout_s
        How long one send may wait for Kafka's acknowledgement before it is spooled.
    retry_interval_s
        How often the background thread tries to deliver the spool.
    producer_config
        More ``KafkaProducer`` settings (e.g. ``max_request_size``).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        spool_dir: str | Path,
        *,
        send_timeout_s: float = 5.0,
        retry_interval_s: float = 2.0,
        producer_config: dict[str, Any] | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._timeout = send_timeout_s
        self._retry = retry_interval_s
        self._config = producer_config or {}
        self.spool = Spool(spool_dir)
        self._producer: KafkaProducer | None = None
        #: Guards the spool's files (held for a file write, never for a wait on Kafka).
        self._lock = threading.Lock()
        #: One delivery of the spool at a time (the background thread's, or a caller's).
        self._drain_lock = threading.Lock()
        self._released = False
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._drain_loop, name="scifish-spool", daemon=True)
        self._thread.start()

    def _client(self) -> KafkaProducer:
        if self._closed.is_set():
            # A delivery still running when close() gave up on it must not make a client
            # nobody closes: what it was sending stays in the spool for the next owner.
            raise KafkaError("the producer is closed")
        if self._producer is None:
            timeout_ms = int(self._timeout * 1000)
            self._producer = KafkaProducer(
                bootstrap_servers=self._bootstrap,
                acks="all",
                max_block_ms=timeout_ms,
                bootstrap_timeout_ms=timeout_ms,
                request_timeout_ms=timeout_ms,
                delivery_timeout_ms=timeout_ms + 1000,
                retries=2,
                reconnect_backoff_max_ms=1000,
                **self._config,
            )
        return self._producer

    def _send_now(self, record: Record) -> None:
        try:
            self._client().send(record.topic, key=record.key, value=record.value).get(timeout=self._timeout + 1)
        except Exception as err:
            if not is_refusal(err):
                # Start the next attempt with a fresh client: a broker that lost its state
                # (restarted empty, or retention) answers the old producer id with
                # UnknownProducerId for ever, and the spool would never drain.
                self._drop_client()
            raise

    def _drop_client(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=0)
            except Exception:
                logger.debug("closing a failed Kafka client", exc_info=True)

    def send(self, topic: str, key: bytes, value: bytes) -> Outcome:
        """Deliver a message, or spool it; either way it is not lost (see :meth:`send_many`)."""
        return self.send_many([(topic, key, value)])[0]

    def send_many(self, items: list[tuple[str, bytes, bytes]]) -> list[Outcome]:
        """Deliver many messages with one wait for all their acknowledgements.

        What Kafka does not acknowledge is spooled, in the given order. What Kafka refuses
        for good is "refused" and set aside in the spool folder's dead-letter file.

        Raises
        ------
        SpoolError
            A message Kafka did not take could not be written to the spool folder (a full
            disk): it is not kept, and the caller must tell someone.
        """
        records = [Record(*item) for item in items]
        outcomes: list[Outcome] = ["spooled"] * len(records)
        with self._lock:
            if self._released:
                raise SpoolError(folder=self.spool.folder, reason="is closed: this producer was closed, nothing is kept")
            refused: dict[int, str] = {}
            if len(self.spool) == 0:
                refused = self._send_batch(records, outcomes)
            kept = [i for i, outcome in enumerate(outcomes) if outcome != "sent"]
            for n, i in enumerate(kept):
                try:
                    if i in refused:
                        self.spool.dead_letter(records[i], refused[i])
                    else:
                        self.spool.append(*records[i])
                except SpoolError as err:
                    raise SpoolError(
                        folder=err.folder,
                        reason=f"{err.reason}; {len(kept) - n} message(s) Kafka did not take are not kept",
                    ) from err
        if len(kept) > len(refused):
            self._wake.set()
        return outcomes

    def _send_batch(self, records: list[Record], outcomes: list[Outcome]) -> dict[int, str]:
        """Send with an empty spool: mark what was "sent" or "refused"; return why each was refused."""
        futures: dict[int, Any] = {}
        refused: dict[int, str] = {}
        try:
            client = self._client()
            for i, (topic, key, value) in enumerate(records):
                try:
                    futures[i] = client.send(topic, key=key, value=value)
                except Exception as err:
                    if not is_refusal(err):
                        raise
                    refused[i] = _reason(err)
            client.flush(timeout=self._timeout + 1)
        except Exception as err:  # noqa: BLE001 - whatever went wrong, what was not taken is spooled
            # What was acknowledged before the failure counts as sent; the rest is spooled.
            logger.warning("Kafka did not take all of %d message(s) (%s)", len(records), err)
        spooled = 0
        for i in range(len(records)):
            future = futures.get(i)
            if future is not None and future.succeeded():
                outcomes[i] = "sent"
            elif future is not None and future.failed() and is_refusal(future.exception):
                refused[i] = _reason(future.exception)
            if i in refused:
                outcomes[i] = "refused"
            elif outcomes[i] != "sent":
                spooled += 1
        if spooled:
            logger.warning("Kafka did not acknowledge %d of %d message(s); spooling them", spooled, len(records))
            self._drop_client()
        return refused

    def flush_spool(self) -> int:
        """Send what the spool holds, in order; return how many lines were dealt with.

        A record Kafka refuses for good and a line that cannot be read back are set aside
        in the dead-letter file; the lines after them go on. Anything else Kafka does not
        take stops the delivery until the next attempt, so the order is kept.

        The wait for Kafka happens outside the spool's lock: a capture meanwhile appends
        behind the pending lines at once (the order holds, since nothing is sent directly
        while the spool is not empty) instead of waiting out the delivery's timeout.
        """
        done = 0
        with self._drain_lock:
            with self._lock:
                lines = self.spool.lines()
            for line in lines:
                if self._closed.is_set():
                    break  # closing: the rest stays pending for the next start
                refusal: str | None = None
                if not isinstance(line, Torn):
                    try:
                        self._send_now(line)
                    except Exception as err:
                        if not is_refusal(err):
                            if isinstance(err, (KafkaError, OSError)):
                                logger.info("spool still waiting for Kafka (%s): %d pending", err, len(self.spool))
                                break
                            raise
                        refusal = _reason(err)
                with self._lock:
                    if self._released:
                        # close() gave up waiting and freed the folder: this line (sent, or
                        # not) stays pending and is sent again by the next owner; a duplicate
                        # at worst, which every consumer of ours takes as a no-op.
                        break
                    if isinstance(line, Torn):
                        self.spool.dead_letter_torn(line)
                    elif refusal is not None:
                        self.spool.dead_letter(line, refusal)
                    self.spool.mark_sent(1)
                done += 1
            with self._lock:
                if not self._released:
                    self.spool.clear_if_done()
        if done:
            logger.info("delivered or set aside %d spooled message(s)", done)
        return done

    def pending(self) -> int:
        return len(self.spool)

    def _drain_loop(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self._retry)
            self._wake.clear()
            if self._closed.is_set():
                return
            if len(self.spool):
                try:
                    self.flush_spool()
                except Exception:
                    logger.exception("spool delivery failed; will retry")

    def close(self) -> None:
        """Stop the delivery thread, close the Kafka client and release the spool folder."""
        self._closed.set()
        self._wake.set()
        self._thread.join(timeout=self._timeout * 2 + 5)
        if self._producer is not None:
            try:
                self._producer.close(timeout=self._timeout)
            except KafkaError as err:
                logger.warning("Kafka client did not close cleanly: %s", err)
            self._producer = None
        # Under the lock: a delivery still running (the join above may give up on it) must
        # finish its writes before another process may take the folder.
        with self._lock:
            self._released = True
            self.spool.close()

"""A Kafka producer that never loses a message: what Kafka cannot take goes to a local spool.

The spool is an append-only file of JSON lines, fsync'd on every append, plus a file
holding how many of its lines have been delivered (also fsync'd). A background thread,
and the next start, send the pending lines in order; while anything is pending, new
messages queue behind it so the order on a topic is the order of capture.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Literal

from kafka import KafkaProducer
from kafka.errors import KafkaError

logger = logging.getLogger(__name__)

Outcome = Literal["sent", "spooled"]


def _fsync_write(path: Path, data: bytes, mode: str) -> None:
    with path.open(mode) as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


class Spool:
    """Pending messages on disk, in order. One process owns a spool folder."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._data = self.folder / "spool.jsonl"
        self._sent = self.folder / "spool.sent"
        self._repair()
        # Kept in memory so that a send with an empty spool costs no file read.
        self._pending = max(0, len(self._lines()) - self._sent_count())

    def _repair(self) -> None:
        # A crash mid-append leaves a partial last line. It was never acknowledged to the
        # caller as spooled, so it is cut off here; otherwise the next append would be
        # glued to it and neither could be read back.
        if not self._data.exists():
            return
        raw = self._data.read_bytes()
        if raw and not raw.endswith(b"\n"):
            keep = raw.rfind(b"\n") + 1
            with self._data.open("r+b") as fh:
                fh.truncate(keep)
                os.fsync(fh.fileno())

    def append(self, topic: str, key: bytes, value: bytes) -> None:
        line = json.dumps(
            {"topic": topic, "key": base64.b64encode(key).decode(), "value": base64.b64encode(value).decode()}
        )
        _fsync_write(self._data, line.encode() + b"\n", "ab")
        self._pending += 1

    def _lines(self) -> list[bytes]:
        if not self._data.exists():
            return []
        return [ln for ln in self._data.read_bytes().split(b"\n") if ln]

    def _sent_count(self) -> int:
        try:
            return int(self._sent.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def pending(self) -> list[tuple[str, bytes, bytes]]:
        out = []
        for raw in self._lines()[self._sent_count() :]:
            item = json.loads(raw)
            out.append((item["topic"], base64.b64decode(item["key"]), base64.b64decode(item["value"])))
        return out

    def __len__(self) -> int:
        return self._pending

    def mark_sent(self, count: int) -> None:
        _fsync_write(self._sent, str(self._sent_count() + count).encode(), "wb")
        self._pending -= count

    def clear_if_done(self) -> None:
        if self._pending == 0:
            self._data.unlink(missing_ok=True)
            self._sent.unlink(missing_ok=True)


class SpoolingProducer:
    """Produce with ``acks=all``; spool to disk when Kafka cannot take the message.

    Parameters
    ----------
    bootstrap_servers
        Kafka bootstrap servers.
    spool_dir
        Folder of the spool; pending messages found there at start are sent first.
    send_timeout_s
        How long one send may wait for Kafka's acknowledgement before it is spooled.
    retry_interval_s
        How often the background thread tries to deliver the spool.
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
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._drain_loop, name="scifish-spool", daemon=True)
        self._thread.start()

    def _client(self) -> KafkaProducer:
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

    def _send_now(self, topic: str, key: bytes, value: bytes) -> None:
        try:
            self._client().send(topic, key=key, value=value).get(timeout=self._timeout + 1)
        except (KafkaError, OSError):
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
        """Deliver a message, or spool it; either way it is not lost."""
        return self.send_many([(topic, key, value)])[0]

    def send_many(self, items: list[tuple[str, bytes, bytes]]) -> list[Outcome]:
        """Deliver many messages with one wait for all their acknowledgements.

        What Kafka does not acknowledge is spooled, in the given order.
        """
        outcomes: list[Outcome] = ["spooled"] * len(items)
        with self._lock:
            failed = list(range(len(items)))
            if len(self.spool) == 0:
                futures: list[Any] = []
                try:
                    client = self._client()
                    for topic, key, value in items:
                        futures.append(client.send(topic, key=key, value=value))
                    client.flush(timeout=self._timeout + 1)
                except (KafkaError, OSError) as err:
                    # What was acknowledged before the failure counts as sent; the rest is spooled.
                    logger.warning("Kafka did not take all of %d message(s) (%s)", len(items), err)
                failed = []
                for i in range(len(items)):
                    if i < len(futures) and futures[i].succeeded():
                        outcomes[i] = "sent"
                    else:
                        failed.append(i)
                if failed:
                    logger.warning("Kafka did not acknowledge %d of %d message(s); spooling them", len(failed), len(items))
                    self._drop_client()
            for i in failed:
                self.spool.append(*items[i])
        if failed:
            self._wake.set()
        return outcomes

    def flush_spool(self) -> int:
        """Send what the spool holds, in order; return how many were delivered."""
        delivered = 0
        with self._lock:
            for topic, key, value in self.spool.pending():
                try:
                    self._send_now(topic, key, value)
                except (KafkaError, OSError) as err:
                    logger.info("spool still waiting for Kafka (%s): %d pending", err, len(self.spool))
                    break
                self.spool.mark_sent(1)
                delivered += 1
            self.spool.clear_if_done()
        if delivered:
            logger.info("delivered %d spooled message(s)", delivered)
        return delivered

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
        self._closed.set()
        self._wake.set()
        self._thread.join(timeout=self._timeout * 2 + 5)
        if self._producer is not None:
            try:
                self._producer.close(timeout=self._timeout)
            except KafkaError as err:
                logger.warning("Kafka client did not close cleanly: %s", err)
            self._producer = None

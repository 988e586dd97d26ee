"""What every Kafka consumer here shares: record batches it cannot decode (which codecs are
missing, and where a failed batch is), and how long its commits may wait (:data:`COMMIT_TIMEOUT_MS`).

Shared by both Kafka consumers (scicow dead-letters such a batch, scireduce logs it) and kept
out of ``scizoo.ops``'s package import, so that what imports ``scizoo.ops`` does not import kafka.

A batch whose codec's library is missing here is not bad data: the same bytes decode once the
library is installed. So a consumer refuses to start without every codec (:func:`require_codecs`),
and such a batch met later is never reported as undecodable (:func:`undecodable` answers None):
the consumer ends without moving past it, and reads it again once the library is there.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer
from kafka.errors import UnsupportedCodecError
from kafka.structs import TopicPartition

from scizoo.core import DependencyUnavailable

#: How long a consumer's commit may block. kafka-python's waits up to its request timeout
#: (305 s) by default, and a loop waiting there does not poll, so does not re-join its group after
#: a broker restart. A commit that times out is one not made: the records are read again, which
#: every consumer here makes harmless (idempotent writes, claimed jobs, the fixity ledger).
COMMIT_TIMEOUT_MS = 10_000

#: Kafka's codec ids (the low bits of a record batch's attributes) by their compression.type name.
_CODEC_NAMES = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


def missing_codecs() -> list[str]:
    """The codecs Kafka defines whose library kafka-python cannot import here (gzip is Python's own).

    A record batch in one of them cannot be read, so a consumer that finds one missing says so
    when it starts (the ``scicow`` and ``reduce`` extras install them all).
    """
    from kafka import codec

    checks = {"snappy": codec.has_snappy, "lz4": codec.has_lz4, "zstd": codec.has_zstd}
    return [name for name, available in checks.items() if not available()]


def require_codecs(service: str, extra: str) -> None:
    """Raise :class:`DependencyUnavailable` naming every codec whose library is missing, and ``extra``.

    A consumer calls it before it joins its group: started without a codec, it could only stop
    at the first batch compressed with it, or (worse) move past that batch and lose its records.
    """
    missing = missing_codecs()
    if missing:
        raise codecs_unavailable(service, extra, missing)


def codecs_unavailable(service: str, extra: str, codecs: list[str]) -> DependencyUnavailable:
    """The error of a consumer that lacks these codecs' libraries: which, and what to install."""
    names = ", ".join(codecs)
    return DependencyUnavailable(
        service=service, dependency=f"the library of the {names} codec{'s' * (len(codecs) > 1)}",
        address=f"the Python environment {sys.prefix}",
        reason=f"kafka-python cannot read records compressed with {names} here",
        hint=f"Install scizoo[{extra}], which brings every codec's library, then start {service} again; "
             "the records wait on their topics, uncommitted")


def missing_library(err: BaseException) -> str | None:
    """The codec whose library this process lacks, if that is why ``err`` was raised; else None."""
    if not isinstance(err, UnsupportedCodecError):
        return None
    # kafka-python's only sign of it: "Libraries for lz4 compression codec not found".
    text = str(err)
    found = next((name for name in ("gzip", "snappy", "lz4", "zstd") if f"for {name} compression" in text), None)
    return found if found is not None and "not found" in text else None


#: How often a consumer's network thread is woken while a poll is running (:func:`nudged`).
NUDGE_EVERY_S = 1.0


def wakeup_of(consumer: KafkaConsumer) -> Any:
    """The consumer's client's ``wakeup()`` (kafka-python keeps the client on a private
    ``_client``), or None where it is not there."""
    wake = getattr(getattr(consumer, "_client", None), "wakeup", None)
    return wake if callable(wake) else None


@contextlib.contextmanager
def nudged(consumer: KafkaConsumer, every_s: float = NUDGE_EVERY_S) -> Iterator[None]:
    """Wake the consumer's network thread every ``every_s`` while the block runs.

    kafka-python 3.0.12 runs its I/O on one thread, and ``poll()`` hands it the wait and blocks
    until it answers. After a broker restart a scicow was seen (its stacks written on SIGUSR1, in
    a whole-suite run) blocked in ``poll()`` for two minutes with the network thread idle in
    ``select()``: the hand-over's wake-up was lost, and nothing woke that thread until a timer of
    its own two minutes later, so the consumer neither read nor re-joined its group. A wake-up
    more is harmless (``select()`` returns and finds nothing to do); this one bounds such a loss to
    ``every_s``. It uses the client's own ``wakeup()``, which kafka-python keeps on the consumer's
    private ``_client``; where that is missing nothing is done."""
    wake = wakeup_of(consumer)
    done = threading.Event()

    def nudge() -> None:
        while not done.wait(every_s):
            with contextlib.suppress(Exception):  # a client closing under it: the block ends anyway
                wake()

    thread = threading.Thread(target=nudge, name="kafka-nudge", daemon=True) if wake is not None else None
    if thread is not None:
        thread.start()
    try:
        yield
    finally:
        done.set()
        if thread is not None:
            thread.join(every_s + 1)


def poll_reading_past(consumer: KafkaConsumer, timeout_ms: int, log: logging.Logger) -> dict[Any, list[Any]]:
    """``consumer.poll()``, moving past a batch that cannot be decoded (:func:`undecodable`), logged
    with where it is. For the consumers of the "ingested" events (scireduce, scifix): the datasets
    are in the catalogue, and a person can ask for their work again. Polled again at the same
    position, kafka-python 3.0.12 would loop inside ``poll()`` for ever. Any other error is raised."""
    try:
        polled: dict[Any, list[Any]] = consumer.poll(timeout_ms=timeout_ms)
    except Exception as err:  # a batch that cannot be decoded raises its codec's own error
        bad = undecodable(err)
        if bad is None:
            raise
        log.error("events not read: %s", bad.reason)
        if bad.partition in consumer.assignment():
            consumer.seek(bad.partition, bad.after)
        return {}
    return polled


@dataclass(frozen=True)
class Undecodable:
    """A record batch that kafka-python fetched and could not decode: where it is, and why."""

    partition: TopicPartition
    #: The first offset of it that was not read, and the offset after it.
    first: int
    after: int
    reason: str


def undecodable(err: BaseException) -> Undecodable | None:
    """Where the batch is whose decoding raised ``err`` out of ``poll()``, or None if that is not what happened.

    kafka-python raises a codec's own error out of ``poll()`` (``UnsupportedCodecError`` for a codec
    whose library is missing or an unknown codec id, zlib's, lz4's or zstd's for a corrupt payload,
    ``CorruptRecordError`` for a bad checksum) and says neither the partition nor the offset. The
    frame that was unpacking the batch knows both, and the batch's header (read without
    decompressing) knows where it ends; they are read from the error's traceback. Should a later
    kafka-python unpack elsewhere, this answers None and the error ends the consumer as before (loudly),
    rather than guess (tests/system/test_compression.py pins what is read). Reading another
    library's frames is unusual: kafka-python offers no other way to learn which partition failed,
    and without it a consumer cannot move past the batch.

    A batch whose codec's library is missing here (:func:`missing_library`) is not undecodable,
    and is None too: the records are sound, and moving past them would lose them.
    """
    if missing_library(err) is not None:
        return None
    unpacking: dict[str, Any] | None = None
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "_unpack_records":
            unpacking = tb.tb_frame.f_locals
        tb = tb.tb_next
    if unpacking is None:
        return None
    records, batch = unpacking.get("self"), unpacking.get("batch")
    tp, position = getattr(records, "topic_partition", None), getattr(records, "next_fetch_offset", None)
    base = getattr(batch, "base_offset", None)
    if not isinstance(tp, TopicPartition) or not isinstance(position, int) or not isinstance(base, int):
        return None
    first = max(position, base)
    # A batch of the current format (magic 2) says where it ends; an old-format one is passed offset by offset.
    end = getattr(batch, "next_offset", None) if getattr(batch, "magic", 2) == 2 else None
    after = max(end if isinstance(end, int) else first + 1, first + 1)
    code = getattr(batch, "compression_type", None)
    codec = _CODEC_NAMES.get(code, f"unknown codec {code}") if isinstance(code, int) else "an unknown codec"
    error = str(err) if str(err).startswith(type(err).__name__) else f"{type(err).__name__}: {err}"
    return Undecodable(tp, first, after, (
        f"records at offsets {first} to {after - 1} of {tp.topic}[{tp.partition}], compressed with {codec} in one "
        f"batch, cannot be decoded: {error}; they stay on their topic at those offsets"))

"""The Ingestor: one batch of records through the rules, the catalogue writer and Kafka.

Delivery: :meth:`Ingestor.handle` returns only once MongoDB acknowledged every write of
the batch and Kafka every dead letter, so the caller may then commit the offsets. Writes
are keyed by a pid derived from the message id, so a redelivered batch changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaProducer
from pydantic import ValidationError
from pymongo.database import Database

from scizoo.core import (
    PROPOSAL_COLLECTION,
    CatalogueSettings,
    DeadLetter,
    ScanMetadata,
    dead_letter_topic,
    events_topic,
)

from ._errors import is_transient
from ._outbox import Outbox
from ._proposals import ProposalLookup
from ._rules import (
    RawRecord,
    decode,
    ingested_event,
    message_dead_letter,
    plan,
    record_dead_letter,
    text_dead_letter,
    validation_reason,
)
from ._settings import ScicowSettings
from ._writer import CatalogueWriter, QuarantineEntry

logger = logging.getLogger(__name__)


@dataclass
class BatchResult:
    ingested: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    dead_letters: list[str] = field(default_factory=list)


class Ingestor:
    """Turns scan messages into catalogue documents. Knows nothing of consumer groups."""

    def __init__(
        self,
        writer: CatalogueWriter,
        outbox: Outbox,
        proposals: ProposalLookup,
        catalogue: CatalogueSettings,
        topic_prefix: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.writer = writer
        self.outbox = outbox
        self._proposals = proposals
        self._catalogue = catalogue
        self._dlq = dead_letter_topic(topic_prefix)
        self._events = events_topic(topic_prefix)
        self._clock = clock

    def ensure_indexes(self) -> None:
        self.writer.ensure_indexes()

    def handle(self, records: Iterable[RawRecord]) -> BatchResult:
        """Handle a batch of Kafka records; returns once everything is durable.

        Raises PyMongoError or :class:`BrokerAway` when the store or the broker is away:
        the caller must then not commit, and re-reads the batch.
        """
        result = BatchResult()
        decoded = decode(records, self._clock())
        refused = self._ingest(decoded.messages, result)
        now = self._clock()
        # A refused write's dead letter points at the record it came from.
        self._send_dead_letters([*decoded.dead_letters,
                                 *(record_dead_letter(decoded.sources[m.message_id], r, now) for m, r in refused)],
                                result)
        return result

    def handle_one_by_one(self, records: list[RawRecord]) -> BatchResult:
        """Handle a batch that failed for a reason that is not the store or broker being away.

        Each record alone: one that still fails can never be ingested, and is dead-lettered
        with the error instead of holding up every record behind it. A transient error
        (store or broker away) still raises, so the batch is rewound and retried.
        """
        result = BatchResult()
        for record in records:
            try:
                one = self.handle([record])
            except Exception as err:
                if is_transient(err):
                    raise
                logger.error("record %s[%d]@%d cannot be ingested: %s", record.topic, record.partition,
                             record.offset, err)
                letter = record_dead_letter(record, f"could not be ingested: {type(err).__name__}: {err}",
                                            self._clock())
                self._send_dead_letters([letter], result)
                continue
            result.ingested += one.ingested
            result.quarantined += one.quarantined
            result.dead_letters += one.dead_letters
        return result

    def _ingest(self, messages: list[ScanMetadata], result: BatchResult) -> list[tuple[ScanMetadata, str]]:
        """Plan and write; returns the messages the store refused, with why."""
        planned = plan(messages, self._proposals.get, self._catalogue)
        now = self._clock()
        for message, reason in planned.quarantine:
            self.writer.quarantine_message(message, reason, now)
            result.quarantined.append(message.message_id)
        if not planned.writes:
            return []
        refused = self.writer.write(planned.writes)
        refused_ids = {w.message.message_id for w, _ in refused}
        done = [w for w in planned.writes if w.message.message_id not in refused_ids]
        self.writer.release([w.message for w in done])
        events = [ingested_event(write, now) for write in done]
        # Reduction hooks rely on the events: a batch is done only once Kafka has them all
        # (a failure here is the broker's, so the batch is retried; its writes are idempotent).
        self.outbox.send([(self._events, e.pid.encode(), e.model_dump_json().encode()) for e in events])
        result.ingested += [e.pid for e in events]
        return [(w.message, reason) for w, reason in refused]

    def _send_dead_letters(self, dead: list[DeadLetter], result: BatchResult) -> None:
        for letter in dead:
            logger.warning("dead letter from %s@%s: %s", letter.topic, letter.offset, letter.reason)
        self.outbox.send([(self._dlq, None, letter.model_dump_json().encode()) for letter in dead])
        result.dead_letters += [letter.reason for letter in dead]

    def redrive_quarantine(self) -> BatchResult:
        """Retry every quarantined scan whose proposal is now known.

        An entry that no longer validates (kept by an older scizoo, edited by hand) is
        dead-lettered with the reason and the others go on.
        """
        result = BatchResult()
        # One look-up per proposal, however many of its scans wait.
        known = [p for p in self.writer.quarantined_proposals() if self._proposals.get(p, fresh=True).proposal]
        ready: list[ScanMetadata] = []
        invalid: list[tuple[QuarantineEntry, str]] = []
        for entry in self.writer.quarantined_messages(known) if known else []:
            try:
                ready.append(ScanMetadata.model_validate_json(entry.message))
            except ValidationError as err:
                invalid.append((entry, f"quarantined message no longer valid: {validation_reason(err)}"))
        now = self._clock()
        for entry, reason in invalid:
            self._send_dead_letters([text_dead_letter(entry.message_id, entry.message, reason, now)], result)
            self.writer.forget(entry)
        if ready:
            refused = self._ingest(ready, result)
            now = self._clock()
            self._send_dead_letters([message_dead_letter(m, r, now) for m, r in refused], result)
            self.writer.release([m for m, _ in refused])
        return result


def make_ingestor(settings: ScicowSettings, db: Database[dict[str, Any]], producer: KafkaProducer, *,
                  reopen: Callable[[], KafkaProducer] | None = None) -> Ingestor:
    """An Ingestor from settings, over a database and a producer.

    With ``reopen``, a producer that failed is closed and replaced (close the last one with
    ``ingestor.outbox.close()``); without, the caller owns ``producer`` and it is kept.
    """
    from pymongo.write_concern import WriteConcern

    token = settings.user_office_token.get_secret_value() if settings.user_office_token else None
    proposals = ProposalLookup(
        db[PROPOSAL_COLLECTION],
        settings.user_office_url,
        token,
        ttl_s=settings.proposal_cache_ttl_s,
        miss_ttl_s=settings.proposal_miss_ttl_s,
    )
    writer = CatalogueWriter(db, WriteConcern(w=settings.write_concern_w, j=settings.write_concern_j),
                             facility=settings.facility)
    return Ingestor(writer, Outbox(producer, reopen), proposals, settings.catalogue(), settings.topic_prefix)

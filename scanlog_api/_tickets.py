"""Download tickets: a signed-in page's download streamed by the browser itself, without the
user's token in a URL (docs/architecture.md, "Downloads").

A ticket is a capability for one download already checked (whose, what), made by
``POST /api/downloads/tickets``, used at ``GET /api/downloads/t/{ticket}`` within a minute (an
hour of Range re-requests for a started file), never beyond the credential it was made with;
the store keeps only its SHA-256, and a log line shows its first characters.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pymongo.errors import DuplicateKeyError

from scizoo.web import MaskInLogs, TokenUser, mask_in_access_log

from ._errors import NotFound, ScanlogError, TooMany
from ._publish import MAX_CART

if TYPE_CHECKING:
    from pymongo.collection import Collection

logger = logging.getLogger(__name__)
Doc = dict[str, Any]

TICKETS = Counter("scizoo_download_tickets", "Download tickets, by event (issued, used, expired, unknown, "
                  "over the bound).", ["event"])

#: A ticket must be used (its download started) within this many seconds of being made.
TICKET_START_S = 60
#: A started single-file ticket serves Range re-requests (a resumed download) this long after its start.
TICKET_RESUME_S = 3600
#: Live tickets one user may hold at once (each is a document in the store until it expires).
MAX_TICKETS_PER_USER = 20
#: Characters of a ticket a log line may show (of its 43): enough to tell two apart, never enough to use.
TICKET_SHOWN = 6
#: Where a ticket is used: the path's last segment.
TICKET_PATH = "/api/downloads/t/"

TicketKind = Literal["archive", "file"]
_Pid = Annotated[str, StringConstraints(min_length=1, max_length=300)]


class FileWanted(BaseModel):
    """One catalogued file of a dataset."""

    model_config = ConfigDict(extra="forbid")
    pid: _Pid
    path: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class TicketIn(BaseModel):
    """What a ticket is for: exactly one of some datasets' files (one archive), the cart's (one
    archive), or one file."""

    model_config = ConfigDict(extra="forbid")
    pids: Annotated[list[_Pid] | None, Field(min_length=1, max_length=MAX_CART, description="Dataset pids.")] = None
    cart: Annotated[bool, Field(description="The datasets in your cart.")] = False
    file: FileWanted | None = None

    @model_validator(mode="after")
    def _one(self) -> TicketIn:
        if sum((self.pids is not None, self.cart, self.file is not None)) != 1:
            raise ValueError("say what to download: exactly one of pids, cart (true) or file ({pid, path})")
        return self


class TicketOut(BaseModel):
    """Where the download is (GET it, no header needed), until when it must start, and what it holds."""

    url: str
    name: str
    kind: TicketKind
    startBy: datetime
    files: int
    size: int
    notIncluded: int


class Gone(ScanlogError):
    """A download ticket that has expired (410: it existed; a new one must be asked for)."""

    status = 410


def ticket_hash(ticket: str) -> str:
    """What the store keeps of a ticket: its SHA-256, so a copy of the store holds no usable ticket."""
    return hashlib.sha256(ticket.encode()).hexdigest()


def shown(ticket: str) -> str:
    """A ticket as a log line may show it."""
    return f"{ticket[:TICKET_SHOWN]}…"


@dataclass(frozen=True)
class Ticket:
    """A ticket's download, as checked when it was made: whose, what, and its name."""

    user: TokenUser
    kind: TicketKind
    pids: list[str]
    name: str
    path: str = ""  # a file ticket's catalogued path


_TICKET_IN_PATH = re.compile(rf"({re.escape(TICKET_PATH)}[A-Za-z0-9_-]{{{TICKET_SHOWN}}})[A-Za-z0-9_-]*")


class MaskTickets(MaskInLogs):
    """Shortens a download ticket in a log record's request line to its first characters
    (uvicorn's access log writes the whole path, and the ticket is the path's last part)."""

    def __init__(self) -> None:
        super().__init__(_TICKET_IN_PATH, r"\1…")


def mask_tickets_in_access_log() -> None:
    """Put :class:`MaskTickets` on uvicorn's access logger (once)."""
    mask_in_access_log(MaskTickets())


def _slot(owner: str, n: int) -> str:
    """The _id of a user's n-th ticket slot (NUL cannot occur in a user name from a token)."""
    return f"{owner}\x00{n}"


class Tickets:
    """Download tickets in the store (``collection``: the tickets' collection, opened lazily)."""

    def __init__(self, collection: Callable[[], Collection[Doc]], *, new_ticket: Callable[[], str] | None = None,
                 per_user: int = MAX_TICKETS_PER_USER) -> None:
        self._collection = collection
        # 32 random bytes (256 bits) from the OS's generator, URL-safe: unguessable.
        self._new = new_ticket or (lambda: secrets.token_urlsafe(32))
        self.per_user = per_user

    def issue(self, ticket: Ticket, now: datetime) -> tuple[str, datetime]:
        """A new ticket for a download already checked, and until when it must be used; TooMany
        when the user holds :attr:`per_user` live ones."""
        tickets = self._collection()
        owner = ticket.user.user
        # The store's TTL monitor removes expired tickets about once a minute; the bound must not wait for it.
        tickets.delete_many({"owner": owner, "expiresAt": {"$lte": now}})
        start_by = _capped(now + timedelta(seconds=TICKET_START_S), ticket.user)
        secret = self._new()
        doc = {"ticket": ticket_hash(secret), "owner": owner, "user": ticket.user.model_dump(), "kind": ticket.kind,
               "pids": ticket.pids, "path": ticket.path, "name": ticket.name, "createdAt": now, "expiresAt": start_by}
        # A user's tickets sit in per_user slots: the _id is the owner and a slot number, so the
        # store's own _id uniqueness keeps the bound when requests come together (counting and
        # then inserting let 12 of 24 such requests in with a bound of 5). The first slot tried
        # is the number held, so a user with few tickets usually gets one at the first insert.
        first = tickets.count_documents({"owner": owner})
        for n in range(self.per_user if first < self.per_user else 0):  # at the bound: refused at once
            try:
                tickets.insert_one({"_id": _slot(owner, (first + n) % self.per_user), **doc})
                break
            except DuplicateKeyError:
                continue
        else:
            TICKETS.labels("over the bound").inc()
            raise TooMany(f"you hold {self.per_user} download tickets already; each ends within "
                          f"{TICKET_START_S} s unused (a started file's within {TICKET_RESUME_S // 60} min): try again then")
        TICKETS.labels("issued").inc()
        logger.info("download ticket %s for %s: %s of %d dataset(s)", shown(secret), owner, ticket.kind,
                    len(ticket.pids))
        return secret, start_by

    def use(self, secret: str, now: datetime) -> Ticket:
        """The download a ticket was made for (NotFound: no such ticket; Gone: expired). The first
        use of a single-file ticket keeps it for Range re-requests until :data:`TICKET_RESUME_S`."""
        tickets = self._collection()
        hashed = ticket_hash(secret)
        # A ticket issued before the slots has its hash as _id (a started file's lives an hour).
        doc = tickets.find_one({"$or": [{"ticket": hashed}, {"_id": hashed}]})
        if doc is None:
            TICKETS.labels("unknown").inc()
            raise NotFound("no such download ticket: ask the page for the download again")
        if doc["expiresAt"] <= now:
            TICKETS.labels("expired").inc()
            raise Gone("this download ticket has expired: ask the page for the download again")
        user = TokenUser.model_validate(doc["user"])
        if doc["kind"] == "file" and "startedAt" not in doc:
            # The slot with this ticket in it: an expired one's slot may hold a new ticket by now.
            slot = {"_id": doc["_id"], "ticket": doc.get("ticket"), "startedAt": {"$exists": False}}
            tickets.update_one(slot, {"$set": {
                "startedAt": now, "expiresAt": _capped(now + timedelta(seconds=TICKET_RESUME_S), user)}})
        TICKETS.labels("used").inc()
        logger.info("download ticket %s of %s used", shown(secret), doc["owner"])
        return Ticket(user=user, kind=doc["kind"], pids=list(doc["pids"]), name=doc["name"], path=doc.get("path") or "")


def _capped(until: datetime, user: TokenUser) -> datetime:
    """Never beyond the credential the ticket was made with (a JWT's expiry)."""
    return min(until, user.expires_at) if user.expires_at is not None else until

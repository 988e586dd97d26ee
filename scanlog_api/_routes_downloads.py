"""Download routes: a dataset's files, a cart's and a publication's as one zip; one file with Range;
and the same through a download ticket, for a signed-in page (see ``_downloads``, "Tickets").

Thin: who may and what is served are ``_downloads``'s (over the access rule of ``_access``).
"""

# No `from __future__ import annotations`: FastAPI reads the real annotations.

import base64
import binascii
import os
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from ._deps import Reader, Writer, get_publisher, services
from ._downloads import BYTES_SERVED, Downloads, Entry, Plan, archive, too_large
from ._errors import NotConfigured
from ._publish import MAX_CART, Publisher
from ._tickets import TICKET_PATH, Ticket, TicketIn, TicketOut, Tickets

router = APIRouter()


def get_downloads(request: Request) -> Downloads:
    downloads = services(request).downloads
    if downloads is None:
        raise NotConfigured("this scan table serves no files (it needs the catalogue's datablocks)")
    return downloads


def get_tickets(downloads: Annotated[Downloads, Depends(get_downloads)]) -> Tickets:
    if downloads.tickets is None:
        raise NotConfigured("this scan table makes no download tickets (it needs the catalogue)")
    return downloads.tickets


Dl = Annotated[Downloads, Depends(get_downloads)]
Tk = Annotated[Tickets, Depends(get_tickets)]
Pub = Annotated[Publisher, Depends(get_publisher)]
Pids = Annotated[list[str], Query(alias="pid", min_length=1, max_length=MAX_CART, description="Dataset pids.")]
_409 = {"description": "Over the archive size limit: the size, and the facility's transfer links"}


def _archive(plan: Plan, name: str, downloads: Downloads) -> Response:
    if (answer := too_large(plan, downloads.max_archive_bytes, downloads.transfer_pattern)) is not None:
        # 409, not 413: 413 speaks of the request's own body, which a client would try to shorten.
        return JSONResponse(answer, status_code=409)
    body, length = archive(plan, downloads.roots, name)
    return StreamingResponse(body, media_type="application/zip", headers={
        "Content-Length": str(length), "Content-Disposition": f'attachment; filename="{name}"',
        "Accept-Ranges": "none", "X-Files-Not-Included": str(len(plan.refused))})


def _datasets_name(pids: list[str]) -> str:
    return f"{pids[0].replace('/', '_')}.zip" if len(set(pids)) == 1 else f"datasets-{len(set(pids))}.zip"


@router.get("/api/downloads/datasets.zip", summary="The files of datasets you may read, as one zip with a manifest",
            responses={409: _409})
def datasets_zip(pids: Pids, user: Reader, downloads: Dl) -> Response:
    return _archive(downloads.plan(pids, user), _datasets_name(pids), downloads)


@router.get("/api/downloads/cart.zip", summary="The files of the datasets in your cart, as one zip",
            responses={409: _409})
def cart_zip(user: Writer, publisher: Pub, downloads: Dl) -> Response:
    return _archive(downloads.plan(publisher.cart(user), user), "cart.zip", downloads)


@router.get("/api/downloads/publication.zip", summary="The files of a publication's datasets, as one zip",
            responses={409: _409})
def publication_zip(doi: Annotated[str, Query(max_length=300)], user: Reader, publisher: Pub,
                    downloads: Dl) -> Response:
    pids = list(publisher.get(doi, user).get("datasetPids", []))
    return _archive(downloads.plan(pids, user), f"{doi.replace('/', '_')}.zip", downloads)


class _CountedFile(FileResponse):
    """Starlette's FileResponse (HTTP Range: one range, several, If-Range), counting what it sends;
    ``held``: a descriptor of the file, closed once the answer is over (sent or not)."""

    def __init__(self, path: str, *, held: int, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self.held = held

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counting(message: Message) -> None:
            if message["type"] == "http.response.body":
                BYTES_SERVED.labels("file").inc(len(message.get("body", b"")))
            await send(message)

        try:
            await super().__call__(scope, receive, counting)
        finally:
            os.close(self.held)


def _digest(entry: Entry) -> dict[str, str]:
    """RFC 9530's Repr-Digest, where the catalogue's checksum is one of its algorithms."""
    name = {"sha256": "sha-256", "sha-256": "sha-256", "sha512": "sha-512", "sha-512": "sha-512"}.get(
        entry.algorithm.lower())
    if not name or not entry.checksum:
        return {}
    try:
        value = base64.b64encode(bytes.fromhex(entry.checksum)).decode()
    except (ValueError, binascii.Error):
        return {}
    return {"Repr-Digest": f"{name}=:{value}:"}


@router.get("/api/downloads/file", summary="One file of a dataset you may read (HTTP Range, for resuming)")
def file(pid: Annotated[str, Query(max_length=300)], path: Annotated[str, Query(max_length=4096)], user: Reader,
         downloads: Dl) -> Response:
    return _file(downloads.file(pid, path, user), downloads)


@router.post("/api/downloads/tickets", summary="A download ticket: one download, checked now, to GET without a header",
             response_model=TicketOut, status_code=201,
             responses={409: _409, 429: {"description": "Too many live tickets of yours"}})
def make_ticket(body: TicketIn, request: Request, user: Writer, publisher: Pub, downloads: Dl,
                tickets: Tk) -> TicketOut | JSONResponse:
    """For a signed-in page: the browser's own download (streamed to disk, a file resumable) of
    exactly what is checked here, at a URL that carries a short-lived ticket, never the token."""
    if body.file is not None:
        entry = downloads.file(body.file.pid, body.file.path, user)
        wanted = Ticket(user, "file", [entry.pid], PurePosixPath(entry.path).name, path=entry.path)
        files, size, left = 1, entry.size, 0
    else:
        pids = list(dict.fromkeys(publisher.cart(user) if body.cart else body.pids or []))
        plan = downloads.plan(pids, user)
        if (answer := too_large(plan, downloads.max_archive_bytes, downloads.transfer_pattern)) is not None:
            return JSONResponse(answer, status_code=409)
        wanted = Ticket(user, "archive", pids, "cart.zip" if body.cart else _datasets_name(pids) if pids else "empty.zip")
        files, size, left = len(plan.included), plan.size, len(plan.refused)
    secret, start_by = tickets.issue(wanted, datetime.now(UTC))
    return TicketOut(url=f"{request.scope.get('root_path', '')}{TICKET_PATH}{secret}", name=wanted.name,
                     kind=wanted.kind, startBy=start_by, files=files, size=size, notIncluded=left)


@router.get(TICKET_PATH + "{ticket}", summary="The download a ticket was made for (a file's with HTTP Range)",
            responses={409: _409, 410: {"description": "The ticket has expired"}})
def by_ticket(ticket: Annotated[str, PathParam(min_length=16, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")],
              downloads: Dl, tickets: Tk) -> Response:
    wanted = tickets.use(ticket, datetime.now(UTC))
    # Checked again, as the one it was made for: an access revoked since, or a file moved out
    # of the roots, stops it here.
    if wanted.kind == "file":
        return _file(downloads.file(wanted.pids[0], wanted.path, wanted.user), downloads)
    return _archive(downloads.plan(wanted.pids, wanted.user), wanted.name, downloads)


def _file(entry: Entry, downloads: Downloads) -> Response:
    # Served through the descriptor opened and checked here (Linux's /proc/self/fd/N opens the
    # very file it holds), not by reopening the path: a link swapped in after the check is not
    # followed. The descriptor is closed once the answer is sent.
    fd = downloads.opened(entry)
    held = f"/proc/self/fd/{fd}"
    # Always bytes, never a type a browser would render: a data file is not a page of this site.
    return _CountedFile(held if os.path.exists(held) else entry.real, held=fd, media_type="application/octet-stream",
                        filename=PurePosixPath(entry.path).name, headers=_digest(entry))

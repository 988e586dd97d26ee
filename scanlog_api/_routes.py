"""The routes: each a few lines over the store (queries, writes) and ``_access`` (who may)."""

# No `from __future__ import annotations`: FastAPI reads the real annotations.

import asyncio
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from scizoo.web import TokenUser

from ._access import build_branches
from ._conditions import Condition
from ._deps import (
    Filters,
    Jobs,
    Reader,
    Store,
    Writer,
    bearer,
    check_columns,
    compile_conditions,
    get_elog,
    get_feed,
    services,
    sort_of,
    storable,
    where_conditions,
)
from ._downloads import transfer_url
from ._elog import ElogClient, entry_id_of
from ._errors import Invalid, NotConfigured, NotFound, TooLarge, TooMany
from ._facets import (
    MAX_BINS,
    MAX_FACET_KEYS,
    MAX_FACET_SCAN,
    MAX_TOP,
    FacetError,
    Facets,
    count_facets,
    facet_fields,
    facet_keys,
)
from ._images import MAX_IMAGE_BYTES, thumbnail
from ._live import EventStream, LiveFeed, Subscriber
from ._models import CommentIn, ElogIn, Page, RatingIn, RerunIn
from ._scans import fixity_view
from ._table import FIXED_COLUMNS, csv_lines, html_table, jsonable, row

router = APIRouter()
#: A page is found by merging skip+limit rows of each access branch: bound the work.
MAX_SKIP = 100_000
Order = Literal["asc", "desc"]


@router.get("/api/me", summary="Who the token belongs to")
def me(user: Writer) -> TokenUser:
    return user


@router.get("/api/scans", response_model=Page, summary="Scans, newest first, with the total count")
def list_scans(
    user: Reader,
    store: Store,
    jobs: Jobs,
    filters: Annotated[Filters, Depends()],
    sort: Annotated[str, Query(description="A column id, or meta:<key>.")] = "creationTime",
    order: Order = "desc",
    skip: Annotated[int, Query(ge=0, le=MAX_SKIP, description="Rows to skip (newest first); bounded work.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    pids: Annotated[str | None, Query(description="Comma-separated pids (at most 5,000): only these.")] = None,
) -> Page:
    branches = filters.branches(user, pids.split(",")[:5000] if pids else None)
    field = sort_of(sort)
    if filters.q:  # free text is matched here, over the whole (bounded) selection
        hits, count = store.text_page(branches, filters.q, field, order, skip, limit)
        return Page(data=_with_fixity(store, _with_reductions(jobs, [jsonable(row(d)) for d in hits], user)),
                    count=count)
    docs = store.page(branches, field, order, skip, limit)
    return Page(data=_with_fixity(store, _with_reductions(jobs, [jsonable(row(d)) for d in docs], user)),
                count=store.count(branches))


def _with_reductions(jobs: Jobs, rows: list[dict[str, Any]], user: TokenUser | None) -> list[dict[str, Any]]:
    """Each row's reduction state: the state of its latest job (one query for the page)."""
    found = jobs.of_scans([r["pid"] for r in rows], user)
    for r in rows:
        mine = found.get(r["pid"]) or []
        r["reduction"] = mine[-1]["state"] if mine else None
    return rows


def _with_fixity(store: Store, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row's fixity (state and how many problems; None before the first pass): one query
    for the page, over rows the access rule already let through."""
    found = store.fixity_of([r["pid"] for r in rows])
    for r in rows:
        shown = fixity_view(found.get(r["pid"]), problems=0)
        r["fixity"] = {"state": shown["state"], "problemCount": shown["problemCount"]} if shown else None
    return rows


@router.get("/api/proposals", summary="The proposals to pick from: the user's own and those with published scans")
def proposals(user: Reader, store: Store) -> list[dict[str, str]]:
    return store.proposals(user)


@router.get("/api/beamlines", summary="The beamlines of the scans the user may see")
def beamlines(user: Reader, store: Store) -> list[str]:
    return store.beamlines(build_branches(user))


@router.get("/api/scans/keys", summary="Every scientific-metadata key in the selection, with its unit")
def metadata_keys(user: Reader, store: Store, filters: Annotated[Filters, Depends()]) -> dict[str, str]:
    return store.metadata_keys(filters.branches(user), filters.q)


FACET_KEY_EXAMPLES = {"a number in another unit": {"value": ["photon_energy"]},
                      "a nested key": {"value": ["sample.temperature"]}}


@router.get("/api/scans/facets", response_model=Facets,
            summary="Counts of the selection per beamline, proposal, status, rating, and for chosen keys")
def facets(
    user: Reader,
    store: Store,
    filters: Annotated[Filters, Depends()],
    key: Annotated[list[str] | None, Query(
        description=f"Metadata keys (at most {MAX_FACET_KEYS}; '.' steps into a nested object): a value "
                    "histogram for numbers, the top values for text.", openapi_examples=FACET_KEY_EXAMPLES)] = None,
    unit: Annotated[list[str] | None, Query(
        description="The unit of the key at the same position's histogram ('' or none: the key's own); "
                    "values are converted on valueSI, as conditions with a unit compare them.",
        openapi_examples={"keV": {"value": ["keV"]}})] = None,
    bins: Annotated[int, Query(ge=1, le=MAX_BINS, description="Bins of a histogram, at most.")] = 10,
    top: Annotated[int, Query(ge=1, le=MAX_TOP, description="Values listed per facet, at most.")] = 10,
) -> Facets:
    """Counted over the selection's newest scans (at most 10,000: ``counted`` of ``of``), through
    the same access rule as the rows: a scan the user may not read is never counted."""
    try:
        wanted = facet_keys(key or [], unit or [])
    except FacetError as err:
        raise Invalid(str(err)) from err
    docs, total = store.facet_sample(filters.branches(user), filters.q, facet_fields(wanted), MAX_FACET_SCAN)
    return count_facets(docs, wanted, total=total, bins=bins, top=top)


#: What the CSV and the stream answer, for the OpenAPI document (FastAPI would call both JSON).
CSV_ANSWER: dict[int | str, dict[str, Any]] = {200: {
                    "description": "The rows, a header line first; metadata columns name their unit.",
                    "content": {"text/csv": {"example": "Scan,Title,photon_energy [keV]\r\n"
                                                        "4,ascan mot01 0 1 10 0.1,9.0\r\n"}}}}
STREAM_ANSWER: dict[int | str, dict[str, Any]] = {200: {
    "description": "Server-sent events: `hello` once, then `scan` with a row (as /api/scans gives it) for each "
                   "new or changed scan you may read that matches proposal, beamline and every where condition; "
                   "`expired` when the token runs out. The stream ends when it cannot stay complete (a client "
                   "too slow): read the table again and reconnect.",
    "content": {"text/event-stream": {"example": 'retry: 1000\nevent: hello\ndata: {}\n\n'
                                                 'event: scan\ndata: {"pid": "20.500.12269/4", "scan_id": "4"}\n\n'}}}}


@router.get("/api/scans.csv", summary="The selection as CSV (streamed), with exactly the given columns",
            responses=CSV_ANSWER, response_class=StreamingResponse)
def export_csv(
    user: Reader,
    store: Store,
    filters: Annotated[Filters, Depends()],
    columns: Annotated[str, Query(description="Comma-separated column ids, in order.")] = ",".join(FIXED_COLUMNS),
    pids: Annotated[str | None, Query(description="Comma-separated pids; default: the whole filter.")] = None,
    sort: str = "creationTime",
    order: Order = "desc",
) -> StreamingResponse:
    cols = [c for c in columns.split(",") if c]
    check_columns(cols)
    branches = filters.branches(user, pids.split(",")[:5000] if pids else None)
    store.check_export(branches)
    units = store.units(cols, branches)
    docs = store.with_text(branches, filters.q, store.merged(branches, sort_of(sort), order))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        csv_lines(docs, cols, units),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="scans-{stamp}.csv"'},
    )


@router.get("/api/stream", summary="Server-sent events: a row each time a scan you can read, and that matches, is written",
            responses=STREAM_ANSWER, response_class=StreamingResponse)
async def stream(
    request: Request,
    user: Reader,
    feed: Annotated[LiveFeed, Depends(get_feed)],
    store: Store,
    conditions: Annotated[list[Condition], Depends(where_conditions)],
    proposal: Annotated[str | None, Query(max_length=100)] = None,
    beamline: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[datetime | None, Query(description=(
        "The table's time bound, if it has one: the conditions' units are read, and their bound on the "
        "scans they search is counted, within it (as for the table), so a stream with conditions is not "
        "refused where the table is answered. New scans are sent whatever their time: the page decides."))] = None,
) -> StreamingResponse:
    state = services(request)
    caps = {"max_anonymous": state.max_anonymous_streams, "max_per_user": state.max_streams_per_user}
    too_many = TooMany("too many live streams are open for you (anonymous: for everyone): "
                       "close another page, sign in, or try again later")
    if not feed.has_room(user, **caps):  # before the conditions' work, so a refused stream costs none
        raise too_many
    # Units of the conditions' keys as the selection holds them now (a scan arriving later
    # with a list value in a unit not seen yet is compared on valueSI only).
    selection = build_branches(user, proposal=proposal, beamline=beamline, since=storable(since, "since"))
    filters = await asyncio.to_thread(compile_conditions, conditions, store, selection)
    sub = Subscriber(user, proposal, beamline, filters)
    if not feed.subscribe(sub, **caps):
        raise too_many
    return EventStream(feed, sub, request.is_disconnected)


@router.put("/api/scans/{pid:path}/rating", summary="Rate a scan (0.5-3 stars in half steps; null: unrated)")
def rate(pid: str, body: RatingIn, user: Writer, store: Store) -> dict[str, Any]:
    if body.value is not None and (body.value * 2 != int(body.value * 2) or not 0.5 <= body.value <= 3):
        raise Invalid("a rating is 0.5 to 3 in steps of 0.5")
    store.rate(pid, user, body.value, datetime.now(UTC))
    return {"pid": pid, "rating": body.value}


@router.post("/api/scans/{pid:path}/reductions", status_code=202,
             summary="Run a reduction again, with changed parameters (a new derived dataset; the old kept)")
def rerun(pid: str, body: RerunIn, user: Writer, jobs: Jobs) -> dict[str, Any]:
    return jobs.request_rerun(pid, user, body.rule, body.params, datetime.now(UTC))


@router.post("/api/reductions/{job_id:path}/cancel", summary="Cancel a queued or failed reduction job")
def cancel_reduction(job_id: str, user: Writer, jobs: Jobs) -> dict[str, Any]:
    return jobs.cancel(job_id, user, datetime.now(UTC))


@router.get("/api/reductions", summary="Reduction jobs, newest first, of scans you may read (state, log, derived)")
def list_reductions(
    user: Reader,
    jobs: Jobs,
    state: Annotated[Literal["queued", "running", "succeeded", "failed", "skipped", "cancelled"] | None,
                     Query(description="Only jobs in this state.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    return jobs.jobs(user, state, limit)


@router.post("/api/scans/{pid:path}/comments", status_code=201, summary="Comment on a scan")
def add_comment(pid: str, body: CommentIn, user: Writer, store: Store) -> dict[str, Any]:
    return store.add_comment(pid, user, body.text, datetime.now(UTC))


@router.patch("/api/comments/{comment_id}", summary="Edit your comment")
def edit_comment(comment_id: str, body: CommentIn, user: Writer, store: Store) -> dict[str, Any]:
    return store.edit_comment(comment_id, user, body.text, datetime.now(UTC))


@router.delete("/api/comments/{comment_id}", status_code=204, summary="Delete your comment")
def delete_comment(comment_id: str, user: Writer, store: Store) -> None:
    store.delete_comment(comment_id, user)


@router.post("/api/scans/{pid:path}/attachments", status_code=201, summary="Attach an image (SciCat Attachment)")
async def attach(pid: str, user: Writer, store: Store, image: Annotated[UploadFile, File()],
                 caption: Annotated[str, Form(max_length=500)] = "") -> dict[str, Any]:
    dataset = await asyncio.to_thread(store.writable, pid, user)
    data = await image.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise TooLarge("an attachment must be under 16 MB")
    thumb = await asyncio.to_thread(thumbnail, data)
    return await asyncio.to_thread(store.attach, dataset, user, caption, thumb, datetime.now(UTC))


@router.post("/api/elog", summary="Export scans you can read to the e-logbook as an HTML table")
def export_elog(body: ElogIn, user: Writer, store: Store, elog: Annotated[ElogClient, Depends(get_elog)],
                token: Annotated[str | None, Depends(bearer)]) -> dict[str, Any]:
    if not elog.url:
        raise NotConfigured("no e-logbook is configured (SCANLOG_ELOG_URL)")
    check_columns(body.columns)
    docs = list(store.merged(build_branches(user, pids=body.pids), "creationTime", "desc"))
    if not docs:
        raise NotFound("none of these scans is one you can read: nothing to export")
    if body.entry_id and not elog.forward_user_token:
        store.check_elog_entry(body.entry_id, user)
    answer = elog.post(title=body.title, html=html_table(docs, body.columns), entry_id=body.entry_id,
                       author=user.user, user_token=token)
    made = entry_id_of(answer)
    if body.entry_id is None and made is not None:
        store.record_elog_entry(made, user, datetime.now(UTC))
    return {"exported": len(docs), "elog": answer}


@router.get("/api/scans/{pid:path}", summary="One scan: all its metadata, files, attachments, ratings, comments")
def detail(pid: str, user: Reader, store: Store, jobs: Jobs, request: Request) -> dict[str, Any]:
    out = store.detail(pid, user)
    out["reductions"] = jobs.of_scans([pid], user).get(pid, [])
    pattern = services(request).scicat_url_pattern
    out["scicatUrl"] = pattern.replace("{pid}", quote(pid, safe="")) if pattern else None
    # The facility's JupyterHub, by the same URL-encoded filling as the transfer link.
    out["notebookUrl"] = transfer_url(services(request).notebook_url_pattern, pid, out.get("sourceFolder") or "")
    # Each user's latest rating counts once: the average, and the caller's own.
    latest = {r["user"]: r["value"] for r in out["ratings"]}
    given = [v for v in latest.values() if v is not None]
    out["ratingSummary"] = {"mine": latest.get(user.user) if user else None, "raters": len(given),
                            "average": round(sum(given) / len(given), 2) if given else None}
    return out


#: Front-end files vendored from npm (with their licence beside them), served by name only.
VENDORED = {"uPlot.iife.min.js": "text/javascript", "uPlot.min.css": "text/css", "LICENSE": "text/plain"}


@router.get("/vendor/uplot/{name}", include_in_schema=False)
def vendored(name: str) -> Response:
    if name not in VENDORED:
        raise NotFound("no such file")
    data = files("scanlog_api").joinpath("static/vendor/uplot", name).read_bytes()
    return Response(data, media_type=VENDORED[name], headers={"Cache-Control": "public, max-age=86400"})


#: The pages' own scripts (ES modules, no build step) and styles, served by name from static/:
#: the Content-Security-Policy allows no inline script or style.
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css"}


@router.get("/static/{name}", include_in_schema=False)
def static(name: str) -> Response:
    kind = STATIC_TYPES.get(PurePosixPath(name).suffix)
    found = files("scanlog_api").joinpath("static", name)
    if kind is None or not found.is_file():
        raise NotFound("no such file")
    return Response(found.read_bytes(), media_type=kind, headers={"Cache-Control": "no-cache"})


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index() -> str:
    return files("scanlog_api").joinpath("static/index.html").read_text(encoding="utf-8")

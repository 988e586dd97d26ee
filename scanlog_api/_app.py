"""scanlog: the live scan table and its API, over a SciCat-compatible catalogue.

Reads follow SciCat's access rule (ownerGroup / accessGroups / isPublished); every write
needs an authenticated user. The live stream is a MongoDB change stream fanned out to
server-sent-event subscribers, each filtered by the same rule.
"""
# No `from __future__ import annotations` here: FastAPI reads the real annotations of
# local dependencies.

import asyncio
import base64
import heapq
import itertools
import io
import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib.resources import files
from typing import Annotated, Any, Literal

import requests
from fastapi import Depends, FastAPI, File, Form, Header, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.errors import PyMongoError

from scizoo import DATASET_COLLECTION, ORIG_DATABLOCK_COLLECTION

from ._auth import Authenticator, AuthError, OidcSettings, TokenUser, can_read
from ._query import (
    FIXED_COLUMNS,
    build_branches,
    csv_lines,
    html_table,
    row,
    sort_field,
    sort_key,
    text_matches,
    unknown_columns,
)

logger = logging.getLogger(__name__)

ATTACHMENT_COLLECTION = "Attachment"
COMMENT_COLLECTION = "ScanlogComment"
RATING_COLLECTION = "ScanlogRating"
MAX_IMAGE_BYTES = 16 * 1024 * 1024  # SciCat's limit for an attachment
MAX_TEXT_SCAN = 50_000  # free text reads the selection; beyond this, ask for a narrower one


class ScanlogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCANLOG_", env_nested_delimiter="__")

    mongo_uri: SecretStr = SecretStr("mongodb://localhost:27017")
    database: str = "scicat"
    #: Static bearer tokens (demo and small sites): token -> user and groups.
    tokens: dict[str, TokenUser] = {}
    #: OIDC provider whose JWTs are accepted (production).
    oidc: OidcSettings | None = None
    #: E-logbook endpoint that accepts {title, html, entry_id} (POST); empty: export disabled.
    elog_url: str = ""
    elog_token: SecretStr | None = None


class RatingIn(BaseModel):
    value: Annotated[float | None, Field(description="0.5 to 3 in half steps; null removes your rating.")]


class CommentIn(BaseModel):
    text: Annotated[str, Field(min_length=1, max_length=10_000)]


class ElogIn(BaseModel):
    pids: Annotated[list[str], Field(min_length=1, max_length=5000)]
    columns: list[str] = list(FIXED_COLUMNS)
    title: Annotated[str, Field(max_length=300)] = "Exported from Scanlog"
    entry_id: Annotated[str | None, Field(description="Append to this entry instead of creating one.")] = None


class Page(BaseModel):
    data: list[dict[str, Any]]
    count: Annotated[int, Field(description="Total number of scans matching the filter.")]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


class _Subscriber:
    def __init__(self, user: TokenUser | None, proposal: str | None, beamline: str | None) -> None:
        self.user, self.proposal, self.beamline = user, proposal, beamline
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self.overflowed = False

    def wants(self, doc: dict[str, Any]) -> bool:
        if self.proposal and self.proposal not in (doc.get("proposalIds") or []):
            return False
        if self.beamline and self.beamline not in (doc.get("instrumentIds") or []):
            return False
        return can_read(self.user, doc)

    def offer(self, item: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # A client too slow to keep up: its stream is ended rather than rows dropped;
            # the page reconnects and re-reads the table.
            self.overflowed = True


class LiveFeed:
    """One change stream on the Dataset collection, fanned out to subscribers."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection
        self._subscribers: set[_Subscriber] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribe(self, sub: _Subscriber) -> None:
        with self._lock:
            self._subscribers.add(sub)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="scanlog-feed", daemon=True)
                self._thread.start()

    def unsubscribe(self, sub: _Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    def _run(self) -> None:
        pipeline = [{"$match": {"operationType": {"$in": ["insert", "update", "replace"]}}}]
        while not self._stop.is_set():
            try:
                with self._collection.watch(pipeline, full_document="updateLookup", max_await_time_ms=250) as stream:
                    while not self._stop.is_set():
                        change = stream.try_next()
                        if change is None or not change.get("fullDocument"):
                            continue
                        doc = change["fullDocument"]
                        item = _jsonable(row(doc))
                        with self._lock:
                            subs = list(self._subscribers)
                        for sub in subs:
                            if sub.wants(doc):
                                sub.loop.call_soon_threadsafe(sub.offer, item)
            except PyMongoError as err:
                logger.warning("change stream interrupted (%s); reopening", err)
                self._stop.wait(1.0)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


def create_app(settings: ScanlogSettings) -> FastAPI:
    """The API and page, with one MongoClient opened lazily and closed with the app."""
    state: dict[str, Any] = {}
    auth = Authenticator(settings.tokens, settings.oidc)

    client_lock = threading.Lock()

    def db() -> Any:
        with client_lock:
            if state.get("closed"):
                raise PyMongoError("scanlog is shutting down")
            if "client" not in state:
                state["client"] = MongoClient(settings.mongo_uri.get_secret_value(), tz_aware=True)
            return state["client"][settings.database]

    def ensure_indexes() -> None:
        """The indexes the table's queries need (each query starts with one of these)."""
        datasets = db()[DATASET_COLLECTION]
        for keys in (
            [("proposalIds", ASCENDING), ("creationTime", DESCENDING)],
            [("instrumentIds", ASCENDING), ("creationTime", DESCENDING)],
            [("ownerGroup", ASCENDING), ("creationTime", DESCENDING)],
            [("accessGroups", ASCENDING), ("creationTime", DESCENDING)],
            [("isPublished", ASCENDING), ("creationTime", DESCENDING)],
            [("creationTime", DESCENDING)],
        ):
            datasets.create_index(keys)
        db()[COMMENT_COLLECTION].create_index([("datasetId", ASCENDING), ("createdAt", ASCENDING)])
        db()[RATING_COLLECTION].create_index([("datasetId", ASCENDING), ("at", ASCENDING)])
        db()[ATTACHMENT_COLLECTION].create_index([("datasetId", ASCENDING)])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Built in the background: on a large existing collection the first build takes
        # minutes, and the table must serve meanwhile (slower until it is done).
        app.state.indexes_ready = threading.Event()

        def build() -> None:
            try:
                ensure_indexes()
                logger.info("scanlog indexes are ready")
            except PyMongoError as err:
                logger.warning("could not create indexes at start: %s", err)
            finally:
                app.state.indexes_ready.set()

        db()  # the client exists before the index thread needs it
        builder = threading.Thread(target=build, name="scanlog-indexes", daemon=True)
        builder.start()
        yield
        if "feed" in state:
            state.pop("feed").close()
        builder.join(5)  # a build still running fails cleanly on the closed client
        with client_lock:
            state["closed"] = True
            if "client" in state:
                state.pop("client").close()

    app = FastAPI(title="scanlog", description="Live scan table over a SciCat catalogue", lifespan=lifespan)

    def current_user(authorization: Annotated[str | None, Header()] = None) -> TokenUser | None:
        try:
            return auth.user_for(authorization)
        except AuthError as err:
            raise HTTPException(401, str(err)) from err

    def signed_in(user: Annotated[TokenUser | None, Depends(current_user)]) -> TokenUser:
        if user is None:
            raise HTTPException(401, "sign in to do this")
        return user

    def readable(pid: str, user: TokenUser | None) -> dict[str, Any]:
        datasets = db()[DATASET_COLLECTION]
        doc = next((d for b in build_branches(user, pids=[pid]) if (d := datasets.find_one(b)) is not None), None)
        if doc is None:
            raise HTTPException(404, f"no dataset {pid!r} you can read")
        return doc

    class Filters:
        def __init__(
            self,
            proposal: Annotated[str | None, Query(max_length=100)] = None,
            beamline: Annotated[str | None, Query(max_length=64)] = None,
            since: Annotated[datetime | None, Query(description="Created at or after (ISO 8601).")] = None,
            until: Annotated[datetime | None, Query(description="Created at or before (ISO 8601).")] = None,
            q: Annotated[str | None, Query(max_length=200, description="Free text over title, keywords and metadata values.")] = None,
            min_rating: Annotated[float | None, Query(ge=0, le=3)] = None,
        ) -> None:
            self.proposal, self.beamline, self.since, self.until = proposal, beamline, since, until
            self.q, self.min_rating = q, min_rating

        def branches(self, user: TokenUser | None, pids: list[str] | None = None) -> list[dict[str, Any]]:
            return build_branches(user, proposal=self.proposal, beamline=self.beamline, since=self.since,
                                  until=self.until, min_rating=self.min_rating, pids=pids)

        def matching(self, datasets: Any, branches: list[dict[str, Any]],
                     docs: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
            """The documents that contain the free text (all of them when there is none).

            Free text reads the selection, so a selection over MAX_TEXT_SCAN is refused
            up front (before any CSV line is sent).
            """
            if not self.q:
                return iter(docs)
            if sum(datasets.count_documents(b) for b in branches) > MAX_TEXT_SCAN:
                raise HTTPException(422, f"free text searches at most {MAX_TEXT_SCAN:,} scans: "
                                         "narrow the selection (proposal, beamline, time) first")
            return (doc for doc in docs if text_matches(doc, self.q))

    def sort_of(column: str) -> str:
        try:
            return sort_field(column)
        except ValueError as err:
            raise HTTPException(422, str(err)) from err

    @app.get("/api/me", summary="Who the token belongs to")
    def me(user: Annotated[TokenUser, Depends(signed_in)]) -> TokenUser:
        return user

    @app.get("/api/scans", response_model=Page, summary="Scans, newest first, with the total count")
    def list_scans(
        user: Annotated[TokenUser | None, Depends(current_user)],
        filters: Annotated[Filters, Depends()],
        sort: Annotated[str, Query(description="A column id, or meta:<key>.")] = "creationTime",
        order: Literal["asc", "desc"] = "desc",
        skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Page:
        branches = filters.branches(user)
        field = sort_of(sort)
        datasets = db()[DATASET_COLLECTION]
        if filters.q:  # free text is matched here, over the whole (bounded) selection
            hits = list(filters.matching(datasets, branches, _merged(datasets, branches, field, order)))
            return Page(data=[_jsonable(row(d)) for d in hits[skip : skip + limit]], count=len(hits))
        docs = _page(datasets, branches, field, order, skip, limit)
        # One after the other: measured, the store answers side-by-side queries no faster.
        count = sum(datasets.count_documents(b) for b in branches)
        return Page(data=[_jsonable(row(d)) for d in docs], count=count)

    @app.get("/api/scans/keys", summary="Every scientific-metadata key in the selection, with its unit")
    def metadata_keys(
        user: Annotated[TokenUser | None, Depends(current_user)],
        filters: Annotated[Filters, Depends()],
    ) -> dict[str, str]:
        datasets = db()[DATASET_COLLECTION]
        branches = filters.branches(user)
        keys: dict[str, str] = {}
        if filters.q:  # free text: only the matching documents' keys
            for doc in filters.matching(datasets, branches, (d for b in branches for d in datasets.find(b))):
                for key, value in (doc.get("scientificMetadata") or {}).items():
                    keys[key] = keys.get(key) or (value.get("unit", "") if isinstance(value, dict) else "")
        else:  # the store collects them, over the whole selection
            for query in branches:
                for g in datasets.aggregate([
                    {"$match": query},
                    {"$project": {"m": {"$objectToArray": "$scientificMetadata"}}},
                    {"$unwind": "$m"},
                    {"$group": {"_id": "$m.k", "unit": {"$max": "$m.v.unit"}}},
                ]):
                    keys[g["_id"]] = keys.get(g["_id"]) or g.get("unit") or ""
        return dict(sorted(keys.items()))

    @app.get("/api/scans.csv", summary="The selection as CSV (streamed), with exactly the given columns")
    def export_csv(
        user: Annotated[TokenUser | None, Depends(current_user)],
        filters: Annotated[Filters, Depends()],
        columns: Annotated[str, Query(description="Comma-separated column ids, in order.")] = ",".join(FIXED_COLUMNS),
        pids: Annotated[str | None, Query(description="Comma-separated pids; default: the whole filter.")] = None,
        sort: str = "creationTime",
        order: Literal["asc", "desc"] = "desc",
    ) -> StreamingResponse:
        cols = [c for c in columns.split(",") if c]
        check_columns(cols)
        branches = filters.branches(user, pids.split(",")[:5000] if pids else None)
        datasets = db()[DATASET_COLLECTION]
        units = {}
        for col in cols:
            if col.startswith("meta:"):
                field = f"scientificMetadata.{col[5:]}.unit"
                hit = next((h for b in branches
                            if (h := datasets.find_one({**b, field: {"$nin": ["", None]}}, {field: 1}))), None)
                units[col] = (hit or {}).get("scientificMetadata", {}).get(col[5:], {}).get("unit", "")
        field = sort_of(sort)
        cursor = filters.matching(datasets, branches, _merged(datasets, branches, field, order))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return StreamingResponse(
            csv_lines(cursor, cols, units),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="scans-{stamp}.csv"'},
        )

    @app.get("/api/stream", summary="Server-sent events: a row each time a scan you can read is written")
    async def stream(
        request: Request,
        user: Annotated[TokenUser | None, Depends(current_user)],
        proposal: Annotated[str | None, Query(max_length=100)] = None,
        beamline: Annotated[str | None, Query(max_length=64)] = None,
    ) -> StreamingResponse:
        if "feed" not in state:
            state["feed"] = LiveFeed(db()[DATASET_COLLECTION])
        feed: LiveFeed = state["feed"]
        sub = _Subscriber(user, proposal, beamline)
        feed.subscribe(sub)

        async def events() -> AsyncIterator[bytes]:
            try:
                yield b"retry: 1000\nevent: hello\ndata: {}\n\n"
                while not sub.overflowed and not await request.is_disconnected():
                    try:
                        item = await asyncio.wait_for(sub.queue.get(), timeout=15)
                    except TimeoutError:
                        yield b": keep-alive\n\n"
                        continue
                    yield f"event: scan\ndata: {json.dumps(item)}\n\n".encode()
            finally:
                feed.unsubscribe(sub)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.put("/api/scans/{pid:path}/rating", summary="Rate a scan (0.5-3 stars in half steps; null: unrated)")
    def rate(pid: str, body: RatingIn, user: Annotated[TokenUser, Depends(signed_in)]) -> dict[str, Any]:
        if body.value is not None and (body.value * 2 != int(body.value * 2) or not 0.5 <= body.value <= 3):
            raise HTTPException(422, "a rating is 0.5 to 3 in steps of 0.5")
        readable(pid, user)
        now = datetime.now(UTC)
        db()[RATING_COLLECTION].insert_one({"_id": uuid.uuid4().hex, "datasetId": pid, "user": user.user,
                                             "value": body.value, "at": now})
        update: dict[str, Any] = {"$set": {"updatedAt": now, "updatedBy": user.user}}
        if body.value is None:
            update["$unset"] = {"dataQualityMetrics": ""}
        else:
            update["$set"]["dataQualityMetrics"] = body.value
        db()[DATASET_COLLECTION].update_one({"_id": pid}, update)
        return {"pid": pid, "rating": body.value}

    def _comment(doc: dict[str, Any]) -> dict[str, Any]:
        return _jsonable({"id": doc["_id"], "author": doc["author"], "text": doc["text"],
                          "createdAt": doc["createdAt"], "updatedAt": doc.get("updatedAt")})

    @app.post("/api/scans/{pid:path}/comments", status_code=201, summary="Comment on a scan")
    def add_comment(pid: str, body: CommentIn, user: Annotated[TokenUser, Depends(signed_in)]) -> dict[str, Any]:
        readable(pid, user)
        doc = {"_id": uuid.uuid4().hex, "datasetId": pid, "author": user.user, "text": body.text,
               "createdAt": datetime.now(UTC), "updatedAt": None}
        db()[COMMENT_COLLECTION].insert_one(doc)
        return _comment(doc)

    def own_comment(comment_id: str, user: TokenUser) -> dict[str, Any]:
        doc = db()[COMMENT_COLLECTION].find_one({"_id": comment_id})
        if doc is None:
            raise HTTPException(404, "no such comment")
        readable(doc["datasetId"], user)
        if doc["author"] != user.user:
            raise HTTPException(403, "you can change only your own comments")
        return doc

    @app.patch("/api/comments/{comment_id}", summary="Edit your comment")
    def edit_comment(comment_id: str, body: CommentIn,
                     user: Annotated[TokenUser, Depends(signed_in)]) -> dict[str, Any]:
        doc = own_comment(comment_id, user)
        doc.update(text=body.text, updatedAt=datetime.now(UTC))
        db()[COMMENT_COLLECTION].update_one({"_id": comment_id},
                                            {"$set": {"text": doc["text"], "updatedAt": doc["updatedAt"]}})
        return _comment(doc)

    @app.delete("/api/comments/{comment_id}", status_code=204, summary="Delete your comment")
    def delete_comment(comment_id: str, user: Annotated[TokenUser, Depends(signed_in)]) -> None:
        own_comment(comment_id, user)
        db()[COMMENT_COLLECTION].delete_one({"_id": comment_id})

    @app.post("/api/scans/{pid:path}/attachments", status_code=201, summary="Attach an image (SciCat Attachment)")
    async def attach(pid: str, user: Annotated[TokenUser, Depends(signed_in)],
                     image: Annotated[UploadFile, File()],
                     caption: Annotated[str, Form(max_length=500)] = "") -> dict[str, Any]:
        dataset = await asyncio.to_thread(readable, pid, user)
        data = await image.read(MAX_IMAGE_BYTES + 1)
        if len(data) > MAX_IMAGE_BYTES:
            raise HTTPException(413, "an attachment must be under 16 MB")
        thumbnail = await asyncio.to_thread(_thumbnail, data)
        now = datetime.now(UTC)
        aid = str(uuid.uuid4())
        doc = {"_id": aid, "aid": aid, "datasetId": pid, "caption": caption, "thumbnail": thumbnail,
               "ownerGroup": dataset["ownerGroup"], "accessGroups": dataset.get("accessGroups", []),
               "isPublished": dataset.get("isPublished", False), "createdBy": user.user, "updatedBy": user.user,
               "createdAt": now, "updatedAt": now}
        await asyncio.to_thread(db()[ATTACHMENT_COLLECTION].insert_one, doc)
        return {"aid": aid, "caption": caption, "thumbnail": thumbnail}

    @app.post("/api/elog", summary="Export scans to the e-logbook as an HTML table")
    def export_elog(body: ElogIn, user: Annotated[TokenUser, Depends(signed_in)]) -> dict[str, Any]:
        if not settings.elog_url:
            raise HTTPException(501, "no e-logbook is configured (SCANLOG_ELOG_URL)")
        check_columns(body.columns)
        datasets = db()[DATASET_COLLECTION]
        docs = list(_merged(datasets, build_branches(user, pids=body.pids), "creationTime", "desc"))
        html = html_table(docs, body.columns)
        headers = {"Authorization": f"Bearer {settings.elog_token.get_secret_value()}"} if settings.elog_token else {}
        try:
            answer = requests.post(settings.elog_url, json={"title": body.title, "html": html,
                                                           "entry_id": body.entry_id, "author": user.user},
                                   headers=headers, timeout=10)
            answer.raise_for_status()
        except requests.RequestException as err:
            raise HTTPException(502, f"the e-logbook did not take the entry: {err}") from err
        return {"exported": len(docs), "elog": answer.json() if answer.content else {}}

    @app.get("/api/scans/{pid:path}", summary="One scan: all its metadata, files, attachments, ratings, comments")
    def detail(pid: str, user: Annotated[TokenUser | None, Depends(current_user)]) -> dict[str, Any]:
        doc = readable(pid, user)
        database = db()
        blocks = database[ORIG_DATABLOCK_COLLECTION].find({"datasetId": pid})
        return _jsonable({
            **row(doc),
            "sourceFolder": doc.get("sourceFolder", ""),
            "scientificMetadata": doc.get("scientificMetadata", {}),
            "files": [f for b in blocks for f in b.get("dataFileList", [])],
            "attachments": [{"aid": a["_id"], "caption": a.get("caption", ""), "thumbnail": a.get("thumbnail", "")}
                            for a in database[ATTACHMENT_COLLECTION].find({"datasetId": pid})],
            "ratings": [{"user": r["user"], "value": r["value"], "at": r["at"]}
                        for r in database[RATING_COLLECTION].find({"datasetId": pid}).sort("at", ASCENDING)],
            "comments": [_comment(c) for c in database[COMMENT_COLLECTION].find({"datasetId": pid})
                         .sort("createdAt", ASCENDING)],
        })

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return files("scanlog_api").joinpath("static/index.html").read_text(encoding="utf-8")

    return app


def check_columns(columns: list[str]) -> None:
    if bad := unknown_columns(columns):
        raise HTTPException(422, f"unknown column(s): {', '.join(map(repr, bad))}")


def _sorted(datasets: Any, query: dict[str, Any], field: str, order: str, limit: int = 0, skip: int = 0) -> Any:
    direction = ASCENDING if order == "asc" else DESCENDING
    cursor = datasets.find(query).sort([(field, direction), ("_id", direction)]).batch_size(500)
    return cursor.skip(skip).limit(limit)


def _merged(datasets: Any, branches: list[dict[str, Any]], field: str, order: str,
            limit: int = 0) -> Iterator[dict[str, Any]]:
    """The disjoint branches' documents as one sorted stream (each branch sorted by the store)."""
    cursors = [_sorted(datasets, b, field, order, limit) for b in branches]
    return heapq.merge(*cursors, key=sort_key(field), reverse=order == "desc")


def _page(datasets: Any, branches: list[dict[str, Any]], field: str, order: str, skip: int,
          limit: int) -> list[dict[str, Any]]:
    """One page of the union: the store skips when there is one branch; else the first
    skip+limit of each branch are merged and sliced."""
    if len(branches) == 1:
        return list(_sorted(datasets, branches[0], field, order, limit, skip))
    return list(itertools.islice(_merged(datasets, branches, field, order, skip + limit), skip, skip + limit))


def _thumbnail(data: bytes) -> str:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.thumbnail((200, 200))
            out = io.BytesIO()
            img.convert("RGB").save(out, format="PNG")
    except (UnidentifiedImageError, OSError) as err:
        raise HTTPException(422, f"not an image: {err}") from err
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()

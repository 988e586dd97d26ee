"""The read-only scan API and a first scan table page.

Access follows SciCat: a dataset is visible to members of its ownerGroup or any of its
accessGroups, and to anyone once published. Users and groups come from bearer tokens.
"""

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from importlib.resources import files
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo import DESCENDING, MongoClient

from scizoo import DATASET_COLLECTION


class TokenUser(BaseModel):
    user: str
    groups: list[str] = []
    admin: bool = False


class ScanlogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCANLOG_")

    mongo_uri: SecretStr = SecretStr("mongodb://localhost:27017")
    database: str = "scicat"
    #: Static bearer tokens (demo and small sites): token -> user and groups.
    tokens: dict[str, TokenUser] = {}


class ScanPublic(BaseModel):
    pid: str
    scan_id: str | None = None
    title: str = ""
    beamline: str = ""
    proposalIds: list[str] = []
    status: str | None = None
    startTime: datetime | None = None
    endTime: datetime | None = None
    creationTime: datetime
    numberOfFiles: int = 0
    sourceFolder: str = ""
    scientificMetadata: dict[str, Any] = {}


class ScanList(BaseModel):
    data: list[ScanPublic]
    count: Annotated[int, Field(description="Total number of scans matching the filter.")]


def _meta_value(doc: dict[str, Any], key: str) -> Any:
    entry = doc.get("scientificMetadata", {}).get(key)
    return entry.get("value") if isinstance(entry, dict) else None


def _public(doc: dict[str, Any]) -> ScanPublic:
    scan_id = _meta_value(doc, "scan_id")
    return ScanPublic(
        pid=doc["pid"],
        scan_id=None if scan_id is None else str(scan_id),
        title=doc.get("description", ""),
        beamline=(doc.get("instrumentIds") or [""])[0],
        proposalIds=doc.get("proposalIds", []),
        status=_meta_value(doc, "scan_status"),
        startTime=doc.get("startTime"),
        endTime=doc.get("endTime"),
        creationTime=doc["creationTime"],
        numberOfFiles=doc.get("numberOfFiles", 0),
        sourceFolder=doc.get("sourceFolder", ""),
        scientificMetadata=doc.get("scientificMetadata", {}),
    )


def access_filter(user: TokenUser | None) -> dict[str, Any]:
    """SciCat's read rule as a MongoDB filter."""
    if user is not None and user.admin:
        return {}
    clauses: list[dict[str, Any]] = [{"isPublished": True}]
    if user is not None and user.groups:
        clauses += [{"ownerGroup": {"$in": user.groups}}, {"accessGroups": {"$in": user.groups}}]
    return {"$or": clauses}


def create_app(settings: ScanlogSettings) -> FastAPI:
    """The API, with one MongoClient opened lazily and closed with the app."""
    state: dict[str, MongoClient] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if "client" in state:
            state.pop("client").close()

    app = FastAPI(title="scanlog", description="Live scan table over a SciCat catalogue", lifespan=lifespan)

    def datasets():  # noqa: ANN202
        if "client" not in state:
            state["client"] = MongoClient(settings.mongo_uri.get_secret_value(), tz_aware=True)
        return state["client"][settings.database][DATASET_COLLECTION]

    def current_user(authorization: Annotated[str | None, Header()] = None) -> TokenUser | None:
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(401, "expected 'Authorization: Bearer <token>'")
        for known, user in settings.tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return user
        raise HTTPException(401, "unknown token")

    @app.get("/api/scans", response_model=ScanList)
    def list_scans(
        user: Annotated[TokenUser | None, Depends(current_user)],
        proposal: Annotated[str | None, Query(max_length=100)] = None,
        beamline: Annotated[str | None, Query(max_length=64)] = None,
        skip: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> ScanList:
        query: dict[str, Any] = {"$and": [access_filter(user)]}
        if proposal:
            query["$and"].append({"proposalIds": proposal})
        if beamline:
            query["$and"].append({"instrumentIds": beamline})
        collection = datasets()
        docs = collection.find(query).sort("creationTime", DESCENDING).skip(skip).limit(limit)
        return ScanList(data=[_public(d) for d in docs], count=collection.count_documents(query))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return files("scanlog_api").joinpath("static/index.html").read_text(encoding="utf-8")

    return app

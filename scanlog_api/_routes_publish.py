"""Publishing routes: the cart, publications and their registration, landing pages, OAI-PMH."""

# No `from __future__ import annotations`: FastAPI reads the real annotations.

import json
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from scizoo.core import PublicationIn

from ._deps import Reader, Writer, get_oai, get_publisher, services
from ._landing import bibtex, landing_page
from ._oai import OaiProvider
from ._publish import Publisher

router = APIRouter()
Pids = Annotated[list[str], Body(embed=True, max_length=1000)]
Pub = Annotated[Publisher, Depends(get_publisher)]


@router.get("/api/cart", summary="Your cart of datasets to publish")
def cart(user: Writer, publisher: Pub) -> dict[str, Any]:
    pids = publisher.cart(user)
    return {"data": pids, "count": len(pids)}


@router.put("/api/cart", summary="Add datasets you may change to your cart")
def add_to_cart(pids: Pids, user: Writer, publisher: Pub) -> dict[str, Any]:
    kept = publisher.add_to_cart(user, pids)
    return {"data": kept, "count": len(kept)}


@router.post("/api/cart/remove", summary="Take datasets out of your cart")
def remove_from_cart(pids: Pids, user: Writer, publisher: Pub) -> dict[str, Any]:
    kept = publisher.remove_from_cart(user, pids)
    return {"data": kept, "count": len(kept)}


@router.get("/api/publications/prefill", summary="The form, prefilled from the datasets' proposal")
def prefill(user: Writer, publisher: Pub, pids: Annotated[str, Query(max_length=100_000)] = "") -> dict[str, Any]:
    return publisher.prefill(user, [p for p in pids.split(",") if p][:1000])


@router.post("/api/publications", status_code=201, summary="Create a private publication of datasets you own")
def create(body: PublicationIn, user: Writer, publisher: Pub) -> dict[str, Any]:
    return publisher.create(body, user, datetime.now(UTC))


@router.post("/api/publications/{doi:path}/register", summary="Register the DOI with DataCite (resumable)")
def register(doi: str, user: Writer, publisher: Pub) -> dict[str, Any]:
    return publisher.register(doi, user, datetime.now(UTC))


@router.get("/api/publications/{doi:path}", summary="A publication (yours, or a registered one)")
def get(doi: str, user: Reader, publisher: Pub) -> dict[str, Any]:
    return publisher.public_view(publisher.get(doi, user))


@router.put("/api/publications/{doi:path}", summary="Amend a publication (a registered one at DataCite too)")
def amend(doi: str, body: PublicationIn, user: Writer, publisher: Pub) -> dict[str, Any]:
    return publisher.amend(doi, body, user, datetime.now(UTC))


@router.delete("/api/publications/{doi:path}", status_code=204, summary="Delete a publication not yet registered")
def delete(doi: str, user: Writer, publisher: Pub) -> None:
    publisher.delete(doi, user, datetime.now(UTC))


@router.get("/api/releases", summary="What the release job would release now (administrators; a dry run)")
def release_plan(user: Writer, publisher: Pub,
                 policy_years: Annotated[int | None, Query(ge=1, le=100, description=(
                     "Preview a policy of this many years (default: the facility's setting)"))] = None) -> dict[str, Any]:
    plan = publisher.releases(user, datetime.now(UTC), dry_run=True, policy_years=policy_years)
    return plan.model_dump(mode="json")


@router.post("/api/releases", summary="Run the release job now (administrators): ended embargoes, the policy")
def release_now(user: Writer, publisher: Pub) -> dict[str, Any]:
    return publisher.releases(user, datetime.now(UTC), dry_run=False).model_dump(mode="json")


@router.get("/doi/{doi:path}/bibtex", response_class=PlainTextResponse, summary="BibTeX of a publication")
def landing_bibtex(doi: str, publisher: Pub) -> Response:
    doc = publisher.get(doi, None)
    return PlainTextResponse(bibtex(doc), media_type="application/x-bibtex",
                             headers={"Content-Disposition": 'attachment; filename="citation.bib"'})


@router.get("/doi/{doi:path}/datacite.json", summary="DataCite JSON of a publication")
def landing_datacite(doi: str, publisher: Pub) -> Response:
    doc = publisher.get(doi, None)
    return Response(json.dumps(doc["metadata"]["datacite"], indent=2), media_type="application/vnd.datacite.datacite+json")


@router.get("/doi/{doi:path}", response_class=HTMLResponse, summary="The public landing page of a DOI")
def landing(doi: str, request: Request, publisher: Pub) -> str:
    doc = publisher.get(doi, None)
    state = services(request)
    # Files served here when there are data roots to serve them from (_downloads).
    limit = state.downloads.max_archive_bytes if state.downloads is not None and state.downloads.roots.given else None
    return landing_page(doc, publisher.datasets_of(doc), state.download_url_pattern, limit)


_OAI = "OAI-PMH 2.0 (Identify, ListMetadataFormats, ListSets, ListRecords, ListIdentifiers, GetRecord)"


@router.get("/oai", response_class=Response, summary=_OAI)
@router.post("/oai", response_class=Response, summary=f"{_OAI}, form-encoded")
async def oai(request: Request, provider: Annotated[OaiProvider, Depends(get_oai)]) -> Response:
    # Every argument as sent, repeats included: the provider refuses what the protocol refuses.
    pairs = (parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
             if request.method == "POST" else request.query_params.multi_items())
    answer = await run_in_threadpool(provider.answer, pairs, datetime.now(UTC))
    return Response(answer, media_type="text/xml; charset=utf-8")

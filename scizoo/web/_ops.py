"""The operators' routes of a web app: /healthz, /readyz, /metrics, and the time of every request."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from scizoo.ops import HTTP_REQUEST, Readiness
from scizoo.ops.store import store_problem


def add_ops_routes(app: FastAPI, *, service: str, mongo_uri: str, setting: str) -> None:
    """Mount the probes and metrics on ``app``; readiness is the store answering (within 2 s)."""
    readiness = Readiness(store_problem(mongo_uri, service=service, setting=setting))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("alive\n")

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> PlainTextResponse:
        why = readiness.problem()
        return PlainTextResponse(f"not ready: {why}\n" if why else "ready\n", status_code=503 if why else 200)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.middleware("http")
    async def timed(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        started = time.perf_counter()
        response = await call_next(request)
        HTTP_REQUEST.labels(service, request.method, str(response.status_code)).observe(time.perf_counter() - started)
        return response

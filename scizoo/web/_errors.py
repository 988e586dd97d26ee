"""Answers for the user, shared by the web services: each error carries its HTTP status and a
message that is safe to show; the apps turn them into ``{"detail": ...}`` responses."""

from __future__ import annotations

from typing import Any


def document_refusals(app: Any) -> None:
    """Say in the app's OpenAPI schema what its 422 answers really are: FastAPI's list of
    problems when a request does not parse, or our ``{"detail": "<sentence>"}`` when it
    parses but cannot be done (an unknown column, a rating off the half-star grid)."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema  # type: ignore[no-any-return]
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Refusal"] = {"type": "object", "required": ["detail"], "title": "Refusal",
                                 "properties": {"detail": {"type": "string", "title": "Detail"},
                                                "problems": {"type": "array", "items": {"type": "object"}}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                answer = operation.get("responses", {}).get("422", {}).get("content", {}).get("application/json")
                if answer is not None:
                    answer["schema"] = {"anyOf": [answer["schema"], {"$ref": "#/components/schemas/Refusal"}]}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi


class WebError(Exception):
    """``status`` is the HTTP status; the message is safe to show."""

    status = 400

    def __init__(self, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        #: [{"field": "attributes.2.device", "message": "..."}]: for errors shown next to their field
        self.problems = problems or []


class NotFound(WebError):
    status = 404


class Forbidden(WebError):
    status = 403


class Conflict(WebError):
    """A stale revision, a name that exists, a DOI that is forever: never silently overwritten."""

    status = 409


class TooLarge(WebError):
    status = 413


class Invalid(WebError):
    status = 422


class TooMany(WebError):
    status = 429


class NotConfigured(WebError):
    status = 501


class UpstreamFailed(WebError):
    """A service called on the user's behalf (an e-logbook, DataCite) did not answer as it should."""

    status = 502


def refuse_unparsed_by_field(app: Any) -> None:
    """Answer a request that does not parse with FastAPI's 422 shape, naming each field and
    why, never the value sent: FastAPI's own answer quotes each wrong value whole (a large or
    secret input echoed back), and a NaN sent as JSON cannot even be written back (a 500)."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.requests import Request

    async def unparsed(request: Request, exc: Exception) -> JSONResponse:
        found = exc.errors() if isinstance(exc, RequestValidationError) else []
        return JSONResponse({"detail": [{"loc": e.get("loc"), "msg": e.get("msg"), "type": e.get("type")}
                                        for e in found[:20]]}, status_code=422)

    app.add_exception_handler(RequestValidationError, unparsed)

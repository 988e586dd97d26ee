"""The API's interactive documentation (Swagger UI at ``/docs``) from files served by the app.

FastAPI's own /docs page loads Swagger UI from a CDN and starts it with an inline script: on a
beamline network without internet it is blank, and it needs a policy that lets inline script
run. Here Swagger UI is vendored (``static/vendor/swagger-ui``, its licence beside it) and
started by a served script file, so the page works offline under the same policy as every
other page. ReDoc (FastAPI's /redoc) is not offered: one documentation page is enough.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} – API</title>
<link rel="stylesheet" href="{files}/vendor/swagger-ui/swagger-ui.css">
<link rel="icon" type="image/png" href="{files}/vendor/swagger-ui/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{files}/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="{files}/api-docs.js"></script>
</body>
</html>
"""


def add_api_docs(app: FastAPI, path: str = "/docs") -> None:
    """Serve Swagger UI for ``app``'s API description at ``path``, and its files below it.

    Create the app with ``docs_url=None, redoc_url=None`` (FastAPI's CDN pages); every link of
    the page carries the prefix the app is mounted at (``root_path``), as FastAPI's does.
    """
    if app.docs_url is not None or app.redoc_url is not None or app.openapi_url is None:
        raise ValueError("create the app with docs_url=None and redoc_url=None, and an openapi_url")
    openapi_url = app.openapi_url
    files = f"{path}/static"
    app.mount(files, StaticFiles(directory=STATIC), name="api-docs-files")

    @app.get(path, include_in_schema=False)
    def api_docs(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return HTMLResponse(_PAGE.format(title=escape(app.title), files=escape(root + files),
                                         openapi=escape(root + openapi_url)))

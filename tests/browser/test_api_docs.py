"""Swagger UI renders the API's documentation under the page's strict policy, offline."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.system


def test_swagger_ui_renders_from_the_apps_own_files(server: str, page) -> None:
    """The ``page`` fixture fails the test on any CSP violation or script error."""
    origins: set[str] = set()
    page.on("request", lambda r: origins.add(urlsplit(r.url).netloc))
    page.goto(f"{server}/docs")
    page.wait_for_selector("#swagger-ui .info .title", timeout=30_000)
    assert "scanlog" in page.inner_text("#swagger-ui .info .title")
    # Every operation of the API is listed, e.g. the scans' list.
    page.wait_for_selector(".opblock-summary-path[data-path='/api/scans']", timeout=30_000)
    assert origins == {urlsplit(server).netloc}, origins  # nothing from a CDN or another site

"""/docs of both web apps works without internet: Swagger UI from files the app serves, started
by a served script, under the same strict Content-Security-Policy as every other page."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.routing import Mount

from scanlog_api import ScanlogSettings, TokenUser
from scanlog_api import create_app as create_scanlog
from scidog import ScidogSettings
from scidog import create_app as create_scidog
from tests.system.test_security_headers import assert_secure, inline_parts

pytestmark = pytest.mark.system


class _Links(HTMLParser):
    """Every address the page makes the browser load (scripts, styles, icons) or names as the API's description."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.openapi: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for key in ("src", "href"):
            if named.get(key):
                self.loads.append(str(named[key]))
        if named.get("data-openapi-url"):
            self.openapi.append(str(named["data-openapi-url"]))


def _links(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


@pytest.fixture(params=["scanlog", "scidog"])
def app(request, mongo, db):
    tokens = {"ta": TokenUser(user="alice", groups=["A"])}
    if request.param == "scanlog":
        return create_scanlog(ScanlogSettings(mongo_uri=mongo.uri, database=db.name, tokens=tokens))
    return create_scidog(ScidogSettings(mongo_uri=mongo.uri, database=db.name, tokens=tokens))


@pytest.fixture()
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def test_docs_loads_only_files_the_app_serves(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    links = _links(docs.text)
    assert links.loads, "the page loads nothing"
    assert [u for u in links.loads if urlsplit(u).scheme or urlsplit(u).netloc] == []  # no CDN, no other site
    for url in links.loads:
        answer = client.get(url)
        assert answer.status_code == 200 and answer.content, url
        assert_secure(answer, url)
    types = {url.rsplit(".", 1)[-1]: client.get(url).headers["content-type"] for url in links.loads}
    assert types["js"].startswith("text/javascript") and types["css"].startswith("text/css")
    assert links.openapi == ["/openapi.json"] and client.get("/openapi.json").json()["paths"]


def test_docs_has_the_strict_policy_and_no_inline_script(client: TestClient) -> None:
    docs = client.get("/docs")
    assert_secure(docs, "/docs")
    assert inline_parts(docs.text).found == []
    assert client.get("/redoc").status_code == 404  # ReDoc would need a CDN


def test_docs_of_a_mounted_app_point_below_its_prefix(app) -> None:
    with TestClient(Starlette(routes=[Mount("/sub", app=app)])) as client:
        docs = client.get("/sub/docs")
        links = _links(docs.text)
        assert links.openapi == ["/sub/openapi.json"]
        assert all(u.startswith("/sub/docs/") for u in links.loads), links.loads
        assert all(client.get(u).status_code == 200 for u in links.loads)

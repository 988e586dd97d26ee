"""Every page and API answer of both web apps carries the security headers, and the pages
need nothing the policy refuses (no inline script or style; their own files served with the
right type). The browser tests check that chromium reports no violation on the real pages."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from scanlog_api import ScanlogSettings, TokenUser
from scanlog_api import create_app as create_scanlog
from scidog import ScidogSettings
from scidog import create_app as create_scidog
from scizoo.core import DATASET_COLLECTION
from tests.system.test_scan_api import _dataset

pytestmark = pytest.mark.system
A = {"Authorization": "Bearer ta"}
WANTED_DIRECTIVES = {"default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'self'",
                     "frame-ancestors 'none'", "img-src 'self' data:", "style-src 'self'"}


def assert_secure(answer, where: str) -> None:
    csp = answer.headers.get("content-security-policy", "")
    directives = {d.strip() for d in csp.split(";")}
    assert WANTED_DIRECTIVES <= directives, (where, csp)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, (where, csp)
    assert answer.headers.get("x-content-type-options") == "nosniff", where
    assert answer.headers.get("referrer-policy") == "no-referrer", where


class _Inline(HTMLParser):
    """Inline script and style in a page: what its policy would refuse."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            self.scripts.append(named)
            # A script runs from a file; JSON-LD is data, which no browser runs.
            if not named.get("src") and named.get("type") != "application/ld+json":
                self.found.append("an inline <script>")
        if tag == "style":
            self.found.append("a <style> element")
        if "style" in named:
            self.found.append(f"a style attribute on <{tag}>")
        self.found += [f"an event handler attribute {k} on <{tag}>" for k in named if k.startswith("on")]


def inline_parts(html: str) -> _Inline:
    parser = _Inline()
    parser.feed(html)
    return parser


@pytest.fixture()
def scanlog(mongo, db) -> Iterator[TestClient]:
    db[DATASET_COLLECTION].insert_one(_dataset(1, "A"))
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name,
                               tokens={"ta": TokenUser(user="alice", groups=["A"])})
    with TestClient(create_scanlog(settings)) as client:
        yield client


def test_every_answer_of_the_scan_table_carries_the_headers(scanlog: TestClient) -> None:
    pid = scanlog.get("/api/scans", headers=A).json()["data"][0]["pid"]
    answers = {
        "the page": scanlog.get("/"),
        "its script": scanlog.get("/static/table.js"),
        "its styles": scanlog.get("/static/scanlog.css"),
        "a list": scanlog.get("/api/scans", headers=A),
        "a scan": scanlog.get(f"/api/scans/{pid}", headers=A),
        "a CSV export": scanlog.get("/api/scans.csv", headers=A),
        "the live stream refused": scanlog.get("/api/stream", headers={"Authorization": "Bearer wrong"}),
        "a 401 of the route": scanlog.get("/api/me"),
        "a 401 before the body is read": scanlog.put(f"/api/scans/{pid}/rating", json={"value": 1}),
        "a 413 before the body is read": scanlog.post("/api/elog", headers={**A, "Content-Length": str(10**9)}),
        "a 404": scanlog.get("/doi/10.5072/none"),
        "a 422": scanlog.get("/api/scans?skip=-1"),
        "OAI-PMH": scanlog.get("/oai?verb=Identify"),
        "health": scanlog.get("/healthz"),
        "metrics": scanlog.get("/metrics"),
        "the API description": scanlog.get("/openapi.json"),
    }
    for where, answer in answers.items():
        assert_secure(answer, where)
    assert answers["a 401 before the body is read"].status_code == 401
    assert answers["a 413 before the body is read"].status_code == 413
    # /docs too: Swagger UI from the app's own files, no exception (tests/system/test_api_docs.py).
    assert_secure(scanlog.get("/docs"), "the API's documentation")


def test_the_scan_tables_pages_need_no_inline_script_or_style(scanlog: TestClient) -> None:
    page = inline_parts(scanlog.get("/").text)
    assert page.found == []
    modules = [s["src"] for s in page.scripts if s.get("type") == "module"]
    assert modules == ["/static/table.js"]
    for name in ("table.js", "session.js", "stars.js", "detail-parts.js"):
        answer = scanlog.get(f"/static/{name}")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/javascript"), name
    assert scanlog.get("/static/scanlog.css").headers["content-type"].startswith("text/css")
    # Only the pages' own scripts and styles, by name: nothing else of the package.
    for other in ("index.html", "nope.js", "..%2F_app.py", "_app.py", "vendor", "vendor%2Fuplot%2FLICENSE"):
        assert scanlog.get(f"/static/{other}").status_code == 404, other
    # The landing page of a publication: its JSON-LD is data; its styles a served file.
    from scanlog_api._landing import landing_page

    doc = {"doi": "10.5072/x", "title": "<b>T</b>", "abstract": "a", "metadata": {"scizoo_form": {}}}
    landing = inline_parts(landing_page(doc, [], ""))
    assert landing.found == []
    assert [s.get("type") for s in landing.scripts] == ["application/ld+json"]
    assert scanlog.get("/static/landing.css").status_code == 200


def test_every_answer_of_scidog_carries_the_headers(mongo, db) -> None:
    settings = ScidogSettings(mongo_uri=mongo.uri, database=db.name,
                              tokens={"ts": TokenUser(user="sam", groups=["sim-staff"])})
    with TestClient(create_scidog(settings)) as client:
        answers = {
            "the page": client.get("/"),
            "who": client.get("/api/me", headers={"Authorization": "Bearer ts"}),
            "a 401": client.get("/api/beamlines"),
            "a 401 before the body is read": client.post("/api/beamlines/sim/configs", json={}),
            "health": client.get("/healthz"),
        }
        for where, answer in answers.items():
            assert_secure(answer, where)
        assert inline_parts(answers["the page"].text).found == []


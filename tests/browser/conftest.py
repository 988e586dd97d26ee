"""The browser tests' fixtures: the scan table served on the real store, and Debian's chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scanlog_api import ScanlogServer, ScanlogSettings, TokenUser
from tests.helpers import launch_chromium


@pytest.fixture()
def server(mongo, db) -> Iterator[str]:
    """The scan table: alice in A, bob in B, rita in R (a reader where A shares with R)."""
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, tokens={
        "ta": TokenUser(user="alice", groups=["A"]), "tb": TokenUser(user="bob", groups=["B"]),
        "tr": TokenUser(user="rita", groups=["R"])})
    with ScanlogServer(settings, grace_s=1) as srv:
        yield srv.url


@pytest.fixture()
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(accept_downloads=True)
    yield context.new_page()
    context.close()

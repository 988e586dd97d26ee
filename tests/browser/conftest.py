"""The browser tests' fixtures: the scan table served on the real store, and Debian's chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scanlog_api import ScanlogServer, ScanlogSettings, TokenUser
from scizoo.core import DATASET_COLLECTION, PROPOSAL_COLLECTION
from scizoo.testing import DataCiteStandIn
from tests.helpers import launch_chromium
from tests.system.test_scan_api import _dataset


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


class PageProblems:
    """What a page said went wrong: a Content-Security-Policy violation (chromium says so on
    the console, and the DOM gets a securitypolicyviolation event) or an uncaught error."""

    def __init__(self, page) -> None:
        self.violations: list[str] = []
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.errors.append(str(err)))
        # Reported to the page's console too, whichever frame or element it came from.
        page.add_init_script("document.addEventListener('securitypolicyviolation', (e) => console.error("
                             "'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI), true)")

    def _console(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text or text.startswith("CSP violation"):
            self.violations.append(text)

    def check(self) -> None:
        assert not self.violations, f"the page broke its Content-Security-Policy: {self.violations}"
        assert not self.errors, f"the page's scripts failed: {self.errors}"


@pytest.fixture()
def page(browser):
    """A page whose CSP violations and uncaught errors fail the test that used it."""
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    problems = PageProblems(page)
    yield page
    context.close()
    problems.check()


@pytest.fixture()
def publishing_server(mongo, db) -> Iterator[tuple[str, DataCiteStandIn]]:
    """The scan table with publishing: alice in A, three scans of proposal A, a DataCite stand-in."""
    db[PROPOSAL_COLLECTION].replace_one({"_id": "A"}, {"_id": "A", "proposalId": "A", "title": "Pt(111) under O2",
                                                       "abstract": "Operando XPS.", "pi_firstname": "Ada",
                                                       "pi_lastname": "Lovelace"}, upsert=True)
    db[DATASET_COLLECTION].insert_many([_dataset(1, "A"), _dataset(2, "A"), _dataset(3, "A")])
    with DataCiteStandIn() as datacite:
        settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, doi_prefix="10.5072",
                                   datacite_url=datacite.url, datacite_username="SCIZOO.TEST",
                                   datacite_password="dc-secret", tokens={"ta": TokenUser(user="alice", groups=["A"])})
        with ScanlogServer(settings, grace_s=1) as srv:
            yield srv.url, datacite

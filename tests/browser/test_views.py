"""Saved views in a real browser (Debian's chromium through Playwright) on the real store: a view
saved on one computer opens on another (a fresh browser context: no storage shared) signed in as
the same user, with its columns, conditions, filters and sort; a member of the proposal it is
shared with opens it too; others do not see it."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from scanlog_api import ScanlogServer, ScanlogSettings, TokenUser
from scizoo.core import DATASET_COLLECTION, PROPOSAL_COLLECTION, VIEW_COLLECTION
from tests.browser.conftest import PageProblems
from tests.browser.test_conditions import SCANS, _scan

pytestmark = pytest.mark.system

WHERE = "photon_energy:between:8:10:keV"


@pytest.fixture()
def views_server(mongo, db) -> Iterator[str]:
    """The scan table: alice and anna in A (proposal A's group), bob in B."""
    db[PROPOSAL_COLLECTION].insert_one({"_id": "A", "proposalId": "A", "title": "A's", "ownerGroup": "A",
                                        "accessGroups": []})
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, tokens={
        "ta": TokenUser(user="alice", groups=["A"]), "tn": TokenUser(user="anna", groups=["A"]),
        "tb": TokenUser(user="bob", groups=["B"])})
    with ScanlogServer(settings, grace_s=1) as srv:
        yield srv.url


def _rows_in_order(page, ids: list[int]) -> None:
    want = ",".join(map(str, ids))
    page.wait_for_function("(want) => [...document.querySelectorAll('#rows td[data-col=scan_id]')]"
                           ".map((td) => td.textContent).join() === want", arg=want, timeout=10000)


def _headers(page) -> list[str]:
    return page.locator("#head th[data-col]").evaluate_all("(ths) => ths.map((th) => th.dataset.col)")


def _fresh(browser, url: str):
    """A page in a context of its own: another computer (no local or session storage shared)."""
    context = browser.new_context()
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(url)
    return context, page, problems


def _picker(page) -> list[str]:
    return page.locator("#v-pick option").all_inner_texts()


def test_a_saved_view_follows_its_user_to_another_computer_and_to_the_proposals_group(
        page, browser, views_server: str, db) -> None:
    db[DATASET_COLLECTION].insert_many([_scan(n, e, t) for n, (e, t) in SCANS.items()])
    matching = sorted(n for n, (e, _) in SCANS.items() if 8 <= e <= 10)

    # Alice builds her view: a condition (from a shared address), a rating-free text filter, a
    # metadata column, sorted by scan number, oldest first.
    page.goto(f"{views_server}/?where={WHERE}#token=ta")
    _rows_in_order(page, sorted(matching, reverse=True))
    assert _picker(page) == ["this browser's columns (default)"]
    page.wait_for_function("() => document.querySelector('#add-column option[value=\"meta:photon_energy\"]')")
    page.select_option("#add-column", "meta:photon_energy")
    page.locator("#head th[data-col=scan_id] span").first.click()
    page.locator("#head th[data-col=scan_id] span").first.click()
    _rows_in_order(page, matching)
    page.fill("#f-q", "scan")
    columns = _headers(page)
    assert columns[-1] == "meta:photon_energy"
    page.fill("#v-name", "cold and near 9 keV")
    page.fill("#v-share", "A")
    page.click("#v-save")
    page.wait_for_function("() => document.querySelector('#v-msg').textContent.startsWith('saved')")
    assert page.locator("#v-msg").inner_text() == "saved “cold and near 9 keV” (shared with A)"
    assert parse_qs(urlsplit(page.url).query)["where"] == [WHERE]
    stored = db[VIEW_COLLECTION].find_one({"owner": "alice"})
    assert (stored["columns"], stored["where"], stored["sort"], stored["filters"]["q"]) == (
        columns, [WHERE], {"key": "scan_id", "order": "asc"}, "scan")

    # Another computer, alice again: nothing in its storage; she opens the view from the picker.
    context, other, problems = _fresh(browser, f"{views_server}/#token=ta")
    try:
        _rows_in_order(other, [5, 4, 3, 2, 1])
        assert _picker(other) == ["this browser's columns", "cold and near 9 keV (shared with A)"]
        other.select_option("#v-pick", label="cold and near 9 keV (shared with A)")
        other.wait_for_url("**view=**")
        _rows_in_order(other, matching)
        assert _headers(other) == columns
        assert other.locator("#chips li span").all_inner_texts() and other.input_value("#f-q") == "scan"
        query = parse_qs(urlsplit(other.url).query)
        assert query["where"] == [WHERE] and query["view"] == [str(stored["_id"])]
        assert other.locator("#v-delete").is_enabled()
        problems.check()
    finally:
        context.close()

    # Anna, in proposal A's group, sees it as alice's and applies it; she may not delete it.
    context, anna, problems = _fresh(browser, f"{views_server}/#token=tn")
    try:
        anna.wait_for_function("() => document.querySelectorAll('#v-pick option').length === 2")
        assert _picker(anna)[1] == "cold and near 9 keV · alice, A"
        anna.select_option("#v-pick", label="cold and near 9 keV · alice, A")
        anna.wait_for_url("**view=**")
        _rows_in_order(anna, matching)
        assert _headers(anna) == columns
        assert anna.locator("#v-msg").inner_text() == "alice's view, shared with A"
        assert anna.locator("#v-delete").is_disabled()
        problems.check()
    finally:
        context.close()

    # Bob is in no group it is shared with: not offered, and its address opens nothing of it.
    context, bob, problems = _fresh(browser, f"{views_server}/?view={stored['_id']}#token=tb")
    try:
        bob.wait_for_function("() => document.querySelector('#v-msg').textContent !== ''")
        assert _picker(bob) == ["this browser's columns (default)"]
        assert bob.locator("#v-msg").inner_text().startswith("cannot open the view: no view")
        problems.check()
    finally:
        context.close()

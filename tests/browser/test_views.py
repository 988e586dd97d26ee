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


def _alice_builds_a_view(page, server: str, db) -> list[int]:
    """The scans stored; alice opens a shared search (a condition), adds a metadata column and
    sorts by scan number, oldest first. The scans the condition keeps, in that order."""
    db[DATASET_COLLECTION].insert_many([_scan(n, e, t) for n, (e, t) in SCANS.items()])
    matching = sorted(n for n, (e, _) in SCANS.items() if 8 <= e <= 10)
    page.goto(f"{server}/?where={WHERE}#token=ta")
    _rows_in_order(page, sorted(matching, reverse=True))
    assert _picker(page) == ["this browser's columns (default)"]
    page.wait_for_function("() => document.querySelector('#add-column option[value=\"meta:photon_energy\"]')")
    page.select_option("#add-column", "meta:photon_energy")
    page.locator("#head th[data-col=scan_id] span").first.click()
    page.locator("#head th[data-col=scan_id] span").first.click()
    _rows_in_order(page, matching)
    return matching


def test_a_saved_view_follows_its_user_to_another_computer_and_to_the_proposals_group(
        page, browser, views_server: str, db) -> None:
    # Alice builds her view: a condition (from a shared address), a rating-free text filter, a
    # metadata column, sorted by scan number, oldest first.
    matching = _alice_builds_a_view(page, views_server, db)
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
        # (None chosen as her default on the server: this browser's layout is still the default.)
        assert _picker(other) == ["this browser's columns (default)", "cold and near 9 keV (shared with A)"]
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


def _bare_layout(page, rows: tuple[int, ...] = (5, 4, 3, 2, 1)) -> None:
    """The browser's own layout opened: every scan one may read, newest first, no view in the address."""
    if rows:
        _rows_in_order(page, list(rows))
    else:
        page.wait_for_function("() => document.querySelector('#page').textContent === 'no scans'")
    assert "view" not in parse_qs(urlsplit(page.url).query)
    assert "meta:photon_energy" not in _headers(page)
    assert _picker(page)[0] == "this browser's columns (default)"


def test_a_default_view_opens_by_itself_on_another_computer_for_its_user_only(
        page, browser, views_server: str, db) -> None:
    # Alice saves a view (a condition, a metadata column, sorted oldest first) and makes it her default.
    matching = _alice_builds_a_view(page, views_server, db)
    columns = _headers(page)
    page.fill("#v-name", "mine by default")
    page.fill("#v-share", "A")
    page.click("#v-save")
    page.wait_for_function("() => document.querySelector('#v-msg').textContent.startsWith('saved')")
    assert page.locator("#v-default").is_enabled()
    page.click("#v-default")
    page.wait_for_function("() => document.querySelector('#v-msg').textContent.includes('opens by default')")
    assert _picker(page) == ["this browser's columns", "mine by default (shared with A) — default"]
    assert page.locator("#v-default").is_disabled()  # it is the default already
    stored = db[VIEW_COLLECTION].find_one({"owner": "alice"})

    # Another computer, alice: the bare address opens her default view, as picking it would.
    context, other, problems = _fresh(browser, f"{views_server}/#token=ta")
    try:
        other.wait_for_url("**view=**")
        _rows_in_order(other, matching)
        assert _headers(other) == columns
        assert other.locator("#chips li span").all_inner_texts()
        query = parse_qs(urlsplit(other.url).query)
        assert query["view"] == [str(stored["_id"])] and query["where"] == [WHERE]
        assert other.input_value("#v-pick") == str(stored["_id"])
        # An address that asks for something (a shared search) opens that instead.
        other.goto(f"{views_server}/?where=photon_energy:gt:11:keV")
        _rows_in_order(other, [3])
        assert "view" not in parse_qs(urlsplit(other.url).query)
        problems.check()
    finally:
        context.close()

    # Anna (group A) is not given alice's default: the browser's layout opens for her. She makes
    # alice's shared view her own default; on another computer it opens for her.
    context, anna, problems = _fresh(browser, f"{views_server}/#token=tn")
    try:
        _bare_layout(anna)
        anna.select_option("#v-pick", label="mine by default · alice, A")
        anna.wait_for_url("**view=**")
        _rows_in_order(anna, matching)
        anna.click("#v-default")
        anna.wait_for_function("() => document.querySelector('#v-msg').textContent.includes('opens by default')")
        problems.check()
    finally:
        context.close()
    context, anna, problems = _fresh(browser, f"{views_server}/#token=tn")
    try:
        anna.wait_for_url("**view=**")
        _rows_in_order(anna, matching)
        assert _headers(anna) == columns
        problems.check()
    finally:
        context.close()

    # Bob has no default: the browser's layout (over no scans: he is in no group of theirs).
    context, bob, problems = _fresh(browser, f"{views_server}/#token=tb")
    try:
        _bare_layout(bob, ())
        problems.check()
    finally:
        context.close()

    # Alice stops sharing it: anna's default is no longer hers to read, and her page opens the
    # browser's layout quietly (no error, no view in the address).
    db[VIEW_COLLECTION].update_one({"_id": stored["_id"]}, {"$set": {"sharedWith": None, "sharedGroup": None}})
    context, anna, problems = _fresh(browser, f"{views_server}/#token=tn")
    try:
        _bare_layout(anna)
        assert anna.locator("#v-msg").inner_text() == ""
        problems.check()
    finally:
        context.close()

    # Alice makes this browser's columns her default again: the bare address stays bare.
    # (Picked, it opens even while a view is her default: the address asks for it, ?view= empty.)
    page.select_option("#v-pick", label="this browser's columns")
    page.wait_for_url(lambda url: url.endswith("/?view="))
    _rows_in_order(page, [5, 4, 3, 2, 1])
    page.click("#v-default")
    page.wait_for_function("() => document.querySelector('#v-msg').textContent.includes('open by default')")
    context, other, problems = _fresh(browser, f"{views_server}/#token=ta")
    try:
        _bare_layout(other)
        problems.check()
    finally:
        context.close()

"""Publishing in a real browser: select scans, cart, form, publish; the landing page opens in a
fresh, logged-out browser and shows the datasets; its JSON-LD parses."""

from __future__ import annotations

import json

import pytest

from scizoo.core import DATASET_COLLECTION
from tests.browser.conftest import PageProblems
from tests.helpers import launch_chromium

pytestmark = pytest.mark.system


def test_select_cart_publish_and_the_public_landing_page(publishing_server, db) -> None:
    from playwright.sync_api import sync_playwright

    url, datacite = publishing_server
    errors: list[str] = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        problems = PageProblems(page)
        page.goto(f"{url}/#token=ta")
        page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 3")
        checks = page.locator("#rows tr input[type=checkbox]")
        checks.nth(0).check()
        checks.nth(1).check()
        page.click("#add-to-cart")
        page.wait_for_function("() => document.getElementById('cart-count').textContent === '2'")
        page.click("#open-cart")
        form = page.locator("#publish-form")
        page.wait_for_function("() => document.querySelector('#publish-form [name=title]').value === 'Pt(111) under O2'")
        assert form.locator("[name=creators]").input_value() == "Lovelace, Ada"
        form.locator("[name=creators]").fill("Lovelace, Ada; not-an-orcid")
        form.locator("[name=publisher]").fill("scizoo lab")
        form.locator("[name=subjects]").fill("XPS, catalysis")
        page.click("#publish")
        page.wait_for_function("() => document.querySelector('#publish-form .error[data-for=creators]').textContent !== ''")
        assert datacite.calls == []  # refused here, nothing sent
        form.locator("[name=creators]").fill("Lovelace, Ada; 0000-0002-1825-0097; scizoo lab")
        page.click("#publish")
        page.locator("#doi-link").wait_for(timeout=15000)
        doi = page.locator("#doi-link").inner_text().removeprefix("https://doi.org/")
        page.wait_for_function("() => document.getElementById('cart-count').textContent === '0'")  # emptied
        # A fresh browser, nobody signed in.
        public = browser.new_context().new_page()
        public_problems = PageProblems(public)  # its JSON-LD is data: no script runs, nothing is refused
        public.goto(f"{url}/doi/{doi}")
        assert public.locator("h1").inner_text() == "Pt(111) under O2"
        assert public.locator("section.dataset").count() == 2
        ld = json.loads(public.locator("script[type='application/ld+json']").inner_text())
        assert ld["@type"] == "Dataset" and ld["identifier"] == f"https://doi.org/{doi}"
        assert ld["creator"][0]["identifier"] == "https://orcid.org/0000-0002-1825-0097"
        assert public.locator("body").evaluate("b => getComputedStyle(b).maxWidth") != "none"  # its stylesheet
        browser.close()
    problems.check()
    public_problems.check()
    assert datacite.dois[doi]["state"] == "findable"
    assert db[DATASET_COLLECTION].count_documents({"isPublished": True}) == 2
    assert not [e for e in errors if "422" not in e], errors  # the refused form is the only error logged

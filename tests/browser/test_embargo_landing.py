"""An embargo in a real browser: the publication form's date goes to DataCite, and a logged-out
reader's landing page says from when the files are available (and lists no dataset before)."""

from __future__ import annotations

import pytest

from scizoo.core import DATASET_COLLECTION
from tests.browser.conftest import PageProblems
from tests.helpers import launch_chromium

pytestmark = pytest.mark.system


def test_the_landing_page_says_when_the_files_of_an_embargoed_publication_are_available(publishing_server, db) -> None:
    from playwright.sync_api import sync_playwright

    url, datacite = publishing_server
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        problems = PageProblems(page)
        page.goto(f"{url}/#token=ta")
        page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 3")
        page.locator("#rows tr input[type=checkbox]").nth(0).check()
        page.click("#add-to-cart")
        page.wait_for_function("() => document.getElementById('cart-count').textContent === '1'")
        page.click("#open-cart")
        form = page.locator("#publish-form")
        page.wait_for_function("() => document.querySelector('#publish-form [name=title]').value !== ''")
        form.locator("[name=publisher]").fill("scizoo lab")
        form.locator("[name=embargo_until]").fill("2031-03-01")
        page.click("#publish")
        page.locator("#doi-link").wait_for(timeout=15000)
        assert "files public from 2031-03-01" in page.locator("#published").inner_text()
        doi = page.locator("#doi-link").inner_text().removeprefix("https://doi.org/")
        public = browser.new_context().new_page()  # nobody signed in
        public_problems = PageProblems(public)
        public.goto(f"{url}/doi/{doi}")
        note = public.locator("p.embargo")
        assert "files available from 2031-03-01" in note.inner_text()
        assert note.locator("time").get_attribute("datetime") == "2031-03-01T00:00:00+00:00"
        assert public.locator("section.dataset").count() == 0  # the datasets are not public yet
        browser.close()
    problems.check()
    public_problems.check()
    assert datacite.dois[doi]["state"] == "findable"
    assert {"date": "2031-03-01", "dateType": "Available"}.items() <= datacite.dois[doi]["dates"][0].items()
    assert db[DATASET_COLLECTION].count_documents({"isPublished": True}) == 0

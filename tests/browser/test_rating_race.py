"""A rating given with the keyboard while the row is updated live: the last value the user gave is
the one stored, however the saves and the live update interleave."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scizoo.core import DATASET_COLLECTION
from tests.helpers import wait_for
from tests.system.test_scan_api import _dataset

pytestmark = pytest.mark.system


def test_a_live_update_while_rating_never_lets_an_earlier_value_land_last(page, server: str, db) -> None:
    datasets = db[DATASET_COLLECTION]
    datasets.insert_one(_dataset(1, "A"))
    held: list = []

    def hold_the_first_save(route) -> None:
        # The first save is held (a slow answer) until the test lets it go; the others go on.
        if route.request.method == "PUT" and not held:
            held.append(route)
        else:
            route.continue_()

    page.route("**/rating", hold_the_first_save)
    page.goto(f"{server}/?proposal=A#token=ta")
    page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 1")
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('live') || "
                           "document.getElementById('status').textContent.startsWith('updated')")
    rating = page.locator("#rows tr").first.locator(".stars")
    rating.focus()
    page.keyboard.press("ArrowRight")  # 0.5: its save is held
    page.keyboard.press("ArrowRight")  # 1: waits behind it
    wait_for(lambda: len(held) == 1, timeout=10, what="the first save, held")

    # The row changes in the catalogue meanwhile, and comes back over the live stream.
    page.evaluate("() => { document.querySelector('#rows tr').dataset.before = 'yes'; }")
    datasets.update_one({}, {"$set": {"datasetName": "renamed meanwhile",
                                      "updatedAt": datetime.now(UTC) + timedelta(seconds=1)}})
    page.wait_for_function("() => !document.querySelector('#rows tr').dataset.before", timeout=15000)

    for _ in range(3):  # 1.5, 2, 2.5
        page.keyboard.press("ArrowRight")
    page.wait_for_timeout(500)  # what a second widget would save goes out now
    held[0].continue_()

    def stored() -> object:
        return (datasets.find_one() or {}).get("dataQualityMetrics")

    # (Asking the page first: Playwright answers the page's requests only while the test calls it.)
    wait_for(lambda: not rating_saving(page) and stored() == 2.5, timeout=10, what="2.5, the last value given")
    page.wait_for_timeout(1000)  # nothing earlier lands after it
    assert stored() == 2.5
    assert page.locator("#rows tr").first.locator(".stars").get_attribute("aria-valuenow") == "2.5"


def rating_saving(page) -> bool:
    return bool(page.evaluate("() => document.querySelector('#rows tr .stars').dataset.saving"))

"""Downloads in a real browser: the cart's and the selection's files from the table as one zip
(signed in: the browser's own download of a ticket's URL), and a file from a publication's
landing page, nobody signed in; the bytes read back."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from scanlog_api import ScanlogServer, ScanlogSettings, TokenUser
from scizoo.testing import DataCiteStandIn
from tests.browser.conftest import PageProblems
from tests.system.test_downloads import _catalogue, _files

pytestmark = pytest.mark.system
A = {"Authorization": "Bearer ta"}


@pytest.fixture()
def site(mongo, db, tmp_path: Path) -> Iterator[tuple[str, dict[str, dict[str, bytes]], Path]]:
    """The scan table serving files from a data root: three scans of alice's proposal A."""
    root = tmp_path / "data"
    made: dict[str, dict[str, bytes]] = {}
    for n in (1, 2, 3):
        files = _files(root / f"scan{n}", n)
        made[_catalogue(db, n, root / f"scan{n}", list(files))] = files
    with DataCiteStandIn() as datacite:
        settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, data_roots=[str(root)],
                                   datacite_url=datacite.url, datacite_username="SCIZOO.TEST",
                                   datacite_password="dc-secret", tokens={"ta": TokenUser(user="alice", groups=["A"])})
        with ScanlogServer(settings, grace_s=1) as srv:
            yield srv.url, made, root


def _zip_of(download: Any) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes())) as z:
        return {name: z.read(name) for name in z.namelist()}


def _expected(made: dict[str, dict[str, bytes]], pids: list[str]) -> dict[str, bytes]:
    return {f"{pid.replace('/', '_')}/{name}": data for pid in pids for name, data in made[pid].items()}


def test_the_cart_and_the_selection_download_from_the_table(site, page) -> None:
    url, made, _ = site
    page.goto(f"{url}/#token=ta")
    page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 3")
    checks = page.locator("#rows tr input[type=checkbox]")
    checks.nth(0).check()
    checks.nth(2).check()
    page.click("#add-to-cart")
    page.wait_for_function("() => document.getElementById('cart-count').textContent === '2'")
    cart = requests.get(f"{url}/api/cart", headers=A, timeout=10).json()["data"]
    page.click("#open-cart")
    with page.expect_download() as info:
        page.click("#download-cart")
    assert info.value.suggested_filename == "cart.zip"
    # The browser's own download of a ticket's URL (streamed to disk by its download manager), not
    # a blob the page held in memory; the URL carries a ticket, never the token.
    assert info.value.url.startswith(f"{url}/api/downloads/t/") and "?" not in info.value.url
    unpacked = _zip_of(info.value)
    manifest = json.loads(unpacked.pop("manifest.json"))
    unpacked.pop("checksums.sha256")
    assert unpacked == _expected(made, cart) and manifest["files"] == 6
    page.click("#close-cart")
    # The selection, without the cart: one scan's files.
    checks.nth(0).uncheck()
    with page.expect_download() as info:
        page.click("#download-selected")
    one = _zip_of(info.value)
    selected = [pid for pid in made if any(name.startswith(pid.replace("/", "_")) for name in one)]
    assert len(selected) == 1 and {k: v for k, v in one.items() if "/" in k} == _expected(made, selected)
    assert info.value.url.startswith(f"{url}/api/downloads/t/")
    page.wait_for_function("() => document.getElementById('status').textContent.includes('your browser is downloading')")


def test_a_file_downloads_from_the_landing_page_nobody_signed_in(site, browser) -> None:
    url, made, _ = site
    pid = next(iter(made))
    form = {"title": "Pt(111)", "abstract": "XPS.", "creators": [{"name": "Lovelace, Ada"}],
            "publisher": "scizoo lab", "publication_year": 2026, "dataset_pids": [pid]}
    doi = requests.post(f"{url}/api/publications", headers=A, json=form, timeout=10).json()["doi"]
    assert requests.post(f"{url}/api/publications/{doi}/register", headers=A, timeout=30).status_code == 200
    context = browser.new_context(accept_downloads=True)
    public = context.new_page()
    problems = PageProblems(public)
    public.goto(f"{url}/doi/{doi}")
    link = public.locator("a.file", has_text="scan1.h5")
    with public.expect_download() as info:
        link.click()
    assert info.value.suggested_filename == "scan1.h5"
    assert Path(info.value.path()).read_bytes() == made[pid]["scan1.h5"]
    with public.expect_download() as info:
        public.click("#download-all")
    assert {k: v for k, v in _zip_of(info.value).items() if "/" in k} == _expected(made, [pid])
    context.close()
    problems.check()


def test_a_file_downloads_from_the_detail_view_with_its_checksum_shown(site, page) -> None:
    """Signed in: the detail view's Download button of one file asks for a file ticket and the
    browser downloads it (Range-resumable for an hour); the file's checksum is shown beside it."""
    import hashlib

    url, made, _ = site
    pid = next(iter(made))
    page.goto(f"{url}/#token=ta")
    page.locator(f"#rows tr[data-pid='{pid}']").get_by_text("details").click()
    row = page.locator("#detail table.files tr", has_text="scan1.h5")
    row.wait_for()
    assert row.locator("td.chk").get_attribute("title") == "sha256 " + hashlib.sha256(made[pid]["scan1.h5"]).hexdigest()
    with page.expect_download() as info:
        row.locator("button.file-download").click()
    assert info.value.suggested_filename == "scan1.h5"
    assert info.value.url.startswith(f"{url}/api/downloads/t/") and "?" not in info.value.url
    assert Path(info.value.path()).read_bytes() == made[pid]["scan1.h5"]

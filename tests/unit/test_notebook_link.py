""""Open in notebook" (issue 22): the facility's JupyterHub URL pattern in the settings, only an
http(s) address with {pid} and {path}, filled URL-encoded into a dataset's detail."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from scanlog_api import ScanlogSettings, create_app
from scanlog_api._downloads import transfer_url
from scanlog_api.testing import FakeReductions, FakeScanStore
from tests.unit.test_scanlog_routes import ALICE, BOB, TOKENS, dataset

HUB = "https://jupyter.example.org/hub/user-redirect/lab/tree/{path}?dataset={pid}"


@pytest.mark.parametrize("bad", ["javascript:alert(1)//{path}", "data:text/html,{pid}", "ftp://hub.example.org/{path}",
                                 "//hub.example.org/{path}", "https:///{path}", "hub.example.org/{path}"])
def test_only_an_http_address_is_accepted(bad: str) -> None:
    with pytest.raises(ValidationError, match="notebook_url_pattern must be an http:// or https:// address"):
        ScanlogSettings(notebook_url_pattern=bad)


def test_only_the_pid_and_path_placeholders_are_accepted() -> None:
    with pytest.raises(ValidationError, match=r"only the placeholders \{pid\} and \{path\}, not \{user\}"):
        ScanlogSettings(notebook_url_pattern="https://hub.example.org/user/{user}/lab/tree/{path}")
    assert ScanlogSettings(notebook_url_pattern=HUB).notebook_url_pattern == HUB
    assert ScanlogSettings().notebook_url_pattern == ""  # no link by default


def test_the_link_is_filled_url_encoded() -> None:
    url = transfer_url(HUB, "20.500/ab&c", "/data/p 1/scan#2?x")
    assert url == "https://jupyter.example.org/hub/user-redirect/lab/tree/data/p%201/scan%232%3Fx?dataset=20.500%2Fab%26c"
    assert transfer_url("", "20.500/1", "/data") is None


def test_the_detail_links_the_notebook_only_with_a_pattern() -> None:
    scan = {**dataset(1, "A"), "sourceFolder": "/data/PA/scan 1"}
    for pattern, expected in ((HUB, "https://jupyter.example.org/hub/user-redirect/lab/tree/data/PA/scan%201"
                                    "?dataset=20.500%2F1"), ("", None)):
        store = FakeScanStore([scan])
        app = create_app(ScanlogSettings(tokens=TOKENS, notebook_url_pattern=pattern), store=store,
                         reductions=FakeReductions(store))
        with TestClient(app) as client:
            assert client.get("/api/scans/20.500/1", headers=ALICE).json()["notebookUrl"] == expected
            assert client.get("/api/scans/20.500/1", headers=BOB).status_code == 404  # readers only, as the detail

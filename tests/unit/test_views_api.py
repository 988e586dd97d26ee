"""Saved views through the app over the in-memory stores (scanlog_api.testing): the rule in a second."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from scanlog_api import ScanlogSettings, TokenUser, create_app
from scanlog_api.testing import FakeReductions, FakeScanStore, FakeViewStore
from tests.views_cases import PROPOSAL_GROUPS, check_default, check_views

TOKENS = {"ta": TokenUser(user="alice", groups=["A"]), "ta2": TokenUser(user="anna", groups=["A"]),
          "tb": TokenUser(user="bob", groups=["B"]), "tr": TokenUser(user="root", admin=True)}


@pytest.fixture()
def client() -> Iterator[TestClient]:
    store = FakeScanStore()
    app = create_app(ScanlogSettings(tokens=TOKENS), store=store, reductions=FakeReductions(store))
    app.state.views = FakeViewStore(PROPOSAL_GROUPS)
    with TestClient(app) as c:
        yield c


def test_views_follow_their_rule_in_memory(client: TestClient) -> None:
    check_views(client)


def test_a_users_default_view_in_memory(client: TestClient) -> None:
    check_default(client)


def test_without_a_view_store_the_app_says_so() -> None:
    store = FakeScanStore()
    with TestClient(create_app(ScanlogSettings(tokens=TOKENS), store=store,
                               reductions=FakeReductions(store))) as client:
        answer = client.get("/api/views", headers={"Authorization": "Bearer ta"})
    assert answer.status_code == 501 and "saved views" in answer.json()["detail"]


def test_views_are_documented_in_openapi() -> None:
    store = FakeScanStore()
    schema = create_app(ScanlogSettings(tokens=TOKENS), store=store, reductions=FakeReductions(store)).openapi()
    assert {"get", "post"} <= set(schema["paths"]["/api/views"])
    assert {"get", "put", "delete"} <= set(schema["paths"]["/api/views/{view_id}"])
    body = schema["paths"]["/api/views"]["post"]["requestBody"]["content"]["application/json"]
    assert body["examples"] and "ViewIn" in body["schema"]["$ref"]
    assert {"401", "403", "404", "409", "422"} <= set(schema["paths"]["/api/views/{view_id}"]["put"]["responses"])
    assert "Refusal" in schema["components"]["schemas"]
    # The default view: read, set (a view you may read), cleared; a gone one is said, not failed.
    default = schema["paths"]["/api/views/default"]
    assert {"get", "put", "delete"} <= set(default)
    assert "ViewDefault" in default["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert {"problem", "view", "id"} <= set(schema["components"]["schemas"]["ViewDefault"]["properties"])
    assert {"401", "404", "422"} <= set(default["put"]["responses"])
    assert default["put"]["requestBody"]["content"]["application/json"]["examples"]

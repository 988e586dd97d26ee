"""Adversarial review of issue 20's search surfaces (conditions, facets, keys, units, the live
stream, the CSV, saved views, the PaNOSC API): what a caller may not read never shows in an
answer, typed text never becomes an operator, pattern or runaway computation, and every
request's work is bounded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from scanlog_api import ScanlogSettings, create_app
from scizoo.core import DATASET_COLLECTION, PUBLISHED_DATA_COLLECTION, Creator, PublicationIn, build_published_data
from tests.system.test_scan_api import _dataset

pytestmark = pytest.mark.system

API = "/panosc-api"
NOW = datetime(2026, 11, 21, tzinfo=UTC)


def _publication(doi: str, pids: list[str]) -> dict[str, Any]:
    form = PublicationIn(title=doi, abstract="abstract", creators=[Creator(name="Chadwick, James")],
                         publisher="scizoo lab", publication_year=2026, subjects=["neutrons"], dataset_pids=pids)
    doc = build_published_data(form, doi=doi, owner_group="A", files=0, size=0, user="alice", now=NOW,
                               landing_url=f"https://scans.example.org/doi/{doi}").to_mongo()
    return {**doc, "status": "registered", "registeredTime": NOW}


@pytest.fixture()
def published(mongo, db) -> Iterator[TestClient]:
    docs = []
    for n in range(30):
        doc = _dataset(n, "A")
        doc["isPublished"] = True
        docs.append(doc)
    db[DATASET_COLLECTION].insert_many(docs)
    db[PUBLISHED_DATA_COLLECTION].insert_many([_publication("10.5072/all", [d["_id"] for d in docs])])
    settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, publisher="scizoo lab", tokens={})
    with TestClient(create_app(settings)) as c:
        yield c


def _nested(levels: int) -> dict[str, Any]:
    """Datasets including their documents including their datasets ..., ``levels`` deep."""
    inner: dict[str, Any] = {}
    for n in reversed(range(levels)):
        relation = "documents" if n % 2 == 0 else "datasets"
        inner = {"include": [{"relation": relation, **({"scope": inner} if inner else {})}]}
    return inner


def test_nested_inclusions_answer_at_most_a_bounded_number_of_items(published: TestClient) -> None:
    """Datasets including their documents including their datasets ...: each level repeats the
    publication's 30 datasets, so six levels were 158 MB (eight: gigabytes) from one anonymous
    filter of 200 characters. The answer now counts its items at every level and refuses (400,
    LoopBack's status for a bad filter) beyond MAX_ANSWER_ITEMS; a filter within it is answered."""
    two = published.get(f"{API}/Datasets?filter={quote(json.dumps({**_nested(2), 'limit': 30}))}")
    assert two.status_code == 200, two.text
    assert len(two.json()) == 30 and all(len(d["documents"][0]["datasets"]) == 30 for d in two.json())
    started = time.monotonic()
    six = published.get(f"{API}/Datasets?filter={quote(json.dumps({**_nested(6), 'limit': 30}))}")
    assert six.status_code == 400, (six.status_code, len(six.content))
    assert "20,000 items" in six.json()["detail"], six.text
    assert time.monotonic() - started < 5
    docs = published.get(f"{API}/Documents?filter={quote(json.dumps(_nested(7)['include'][0]['scope']))}")
    assert docs.status_code == 400 and "items" in docs.json()["detail"], docs.text

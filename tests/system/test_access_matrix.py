"""SciCat's access rule over every endpoint of the scan table, as a matrix.

Each cell (endpoint x user x dataset) gets its answer from a small pure statement of the
rule in this file, never from the app's own ``_access``, and is compared with what the app
returns over real HTTP, with real OIDC tokens (a local JWKS endpoint) and the real store.
A write is also checked in the store: a refused write must have changed nothing.
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from PIL import Image
from pydantic import SecretStr

from scanlog_api import OidcSettings, ScanlogServer, ScanlogSettings, create_app
from scanlog_api._views import SavedView
from scidog import ConfigStore, ScidogSettings
from scidog import create_app as create_scidog
from scifish.testing import TangoDatabase
from scizoo.core import (
    ACTIVE_CONFIGURATION_COLLECTION,
    ATTACHMENT_COLLECTION,
    CART_COLLECTION,
    COMMENT_COLLECTION,
    CONFIGURATION_COLLECTION,
    CONFIGURATION_REVISION_COLLECTION,
    DATASET_COLLECTION,
    JOB_COLLECTION,
    PUBLISHED_DATA_COLLECTION,
    RATING_COLLECTION,
    VIEW_COLLECTION,
    BeamlineConfig,
    CatalogueSettings,
    Proposal,
    PublicationIn,
    RecordedEntry,
    ScanMetadata,
    attachments_of,
    build_dataset,
    build_published_data,
)
from scizoo.testing import DataCiteStandIn
from tests.helpers import make_scan, wait_for
from tests.system.test_scanlog_oidc_elog import AUDIENCE, ISSUER, Services

pytestmark = pytest.mark.system

ADMINS = "scicat-admins"
#: Beamline -> staff group allowed to comment (scanlog's ``staff_comment_groups``).
STAFF = {"sim": "sim-staff"}
BAD_TOKENS = ("expired", "foreign")


# --- the world: datasets and users ------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    name: str
    scan: int
    owner: str
    access: tuple[str, ...]
    published: bool
    beamline: str


DATASETS = (
    Dataset("A", 1, "A", ("collab",), False, "sim"),
    Dataset("B", 2, "B", (), False, "sim"),
    Dataset("B-published", 3, "B", (), True, "sim"),
    # Staff of "sim" may read it (published) but not comment: another beamline's scan.
    Dataset("B-published-other-beamline", 4, "B", (), True, "other"),
)
SENTINEL = Dataset("sentinel", 9, "S", (), True, "sim")


@dataclass(frozen=True)
class Who:
    name: str
    groups: frozenset[str] = frozenset()
    #: "none" (no Authorization header), "valid", "expired" or "foreign" (signed with another key)
    token: str = "none"

    @property
    def admin(self) -> bool:
        return self.token == "valid" and ADMINS in self.groups


USERS = (
    Who("member-of-A", frozenset({"A"}), "valid"),
    Who("member-of-B", frozenset({"B"}), "valid"),
    Who("collaborator", frozenset({"collab"}), "valid"),
    Who("staff", frozenset({"sim-staff"}), "valid"),
    Who("admin", frozenset({ADMINS}), "valid"),
    Who("anonymous"),
    # The bad tokens claim everything: any cell they get through is a leak.
    Who("expired", frozenset({"A", "B", "collab", "sim-staff", ADMINS}), "expired"),
    Who("foreign-key", frozenset({"A", "B", "collab", "sim-staff", ADMINS}), "foreign"),
)


# --- the rule, as plain data -------------------------------------------------------------


def may_read(who: Who, ds: Dataset) -> bool:
    if who.token in BAD_TOKENS:
        return False
    return ds.published or who.admin or ds.owner in who.groups or bool(who.groups & set(ds.access))


def may_write(who: Who, ds: Dataset) -> bool:
    return who.token == "valid" and (who.admin or ds.owner in who.groups)


def may_comment(who: Who, ds: Dataset) -> bool:
    return may_write(who, ds) or (who.token == "valid" and STAFF.get(ds.beamline) in who.groups)


def never(who: Who, ds: Dataset) -> bool:
    """Someone else's comment: only its author edits or deletes it (admins included)."""
    return False


def visible(who: Who) -> frozenset[str]:
    return frozenset(d.name for d in DATASETS if may_read(who, d))


def read_status(who: Who) -> int:
    """A list, key or CSV read: a bad token is refused, never downgraded to anonymous."""
    return 401 if who.token in BAD_TOKENS else 200


def one_status(who: Who, ds: Dataset, *, sign_in: bool, allowed: Callable[[Who, Dataset], bool] | None,
               ok: int) -> int:
    """One dataset: 401 without a valid token (where one is needed), 404 when it may not be read
    (its existence never leaks), 403 when it may be read but not changed, else ``ok``."""
    if who.token in BAD_TOKENS or (sign_in and who.token == "none"):
        return 401
    if not may_read(who, ds):
        return 404
    if allowed is not None and not allowed(who, ds):
        return 403
    return ok


# --- fixtures ---------------------------------------------------------------------------


def _document(ds: Dataset) -> dict[str, Any]:
    scan = make_scan(ds.scan)
    message = ScanMetadata(
        message_id=f"matrix-{ds.name}", beamline=ds.beamline, source="manual", proposal_id=ds.owner,
        data_path="/data", scan=scan, produced_at=scan.start,
        # A key only this dataset has: the column picker's answer shows which datasets it read.
        entries=[RecordedEntry(name=f"only_{ds.scan}", device="d/e/1", attribute="energy", value=1.0, unit="eV")],
    )
    doc = build_dataset(message, Proposal(proposalId=ds.owner, accessGroups=list(ds.access)),
                        CatalogueSettings()).to_mongo()
    doc["isPublished"] = ds.published
    return doc


@dataclass
class World:
    db: Any
    settings: ScanlogSettings
    services: Services
    pids: dict[str, str]  # dataset name -> pid
    headers: dict[str, dict[str, str]]  # user name -> request headers
    png: bytes
    datacite: DataCiteStandIn | None = None

    def name_of(self, pid: str) -> str:
        return next((n for n, p in self.pids.items() if p == pid), pid)

    def name_of_scan(self, scan_id: str) -> str:
        return next((d.name for d in (*DATASETS, SENTINEL) if str(d.scan) == scan_id), f"scan {scan_id}")


@pytest.fixture(scope="module")
def keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """The provider's signing key and a foreign one."""
    return (rsa.generate_private_key(public_exponent=65537, key_size=2048),
            rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _token(who: Who, key: Any, foreign: Any) -> str | None:
    if who.token == "none":
        return None
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 900, "preferred_username": who.name,
              "groups": [f"/{g}" for g in sorted(who.groups)]}
    if who.token == "expired":
        claims.update(iat=now - 960, exp=now - 60)
    # The foreign token names the provider's key id: a forgery, not an unknown key.
    return jwt.encode(claims, foreign if who.token == "foreign" else key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture()
def world(mongo, db, keys) -> Iterator[World]:
    key, foreign = keys
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    services = Services({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]})
    docs = {d.name: _document(d) for d in DATASETS}
    db[DATASET_COLLECTION].insert_many([dict(d) for d in docs.values()])
    # A reduction that ran on each scan: what a rerun through the API starts from.
    db[JOB_COLLECTION].insert_many([{"_id": f"{d['pid']}#fine", "datasetId": d["pid"], "rule": "fine",
                                     "state": "succeeded", "attempt": 1} for d in docs.values()])
    settings = ScanlogSettings(
        mongo_uri=mongo.uri, database=db.name, staff_comment_groups=STAFF,
        elog_url=f"{services.url}/entries", elog_token="elog-secret",
        oidc=OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=f"{services.url}/jwks", admin_groups=[ADMINS]),
    )
    headers = {w.name: ({"Authorization": f"Bearer {t}"} if (t := _token(w, key, foreign)) else {}) for w in USERS}
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(png, format="PNG")
    yield World(db, settings, services, {n: d["pid"] for n, d in docs.items()}, headers, png.getvalue())
    services.close()


# --- cells --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    endpoint: str
    user: str
    dataset: str
    expected: Any
    got: Any
    leak: bool

    def __str__(self) -> str:
        mark = "LEAK " if self.leak else ""
        return f"{mark}{self.endpoint} as {self.user} on {self.dataset}: expected {self.expected}, got {self.got}"


def _set(names: frozenset[str]) -> str:
    return "{" + ", ".join(sorted(names)) + "}"


def _read_cell(endpoint: str, who: Who, status: int, seen: frozenset[str], count: int | None = None) -> Cell:
    want = visible(who) if read_status(who) == 200 else frozenset()
    expected: tuple[Any, ...] = (read_status(who), _set(want))
    got: tuple[Any, ...] = (status, _set(seen))
    if count is not None:
        expected, got = (*expected, len(want)), (*got, count)
    leak = bool(seen - want) or (count is not None and count > len(want))
    return Cell(endpoint, who.name, "(all)", expected, got, leak)


def _list(client: TestClient, world: World) -> Iterator[Cell]:
    for who in USERS:
        r = client.get("/api/scans", headers=world.headers[who.name])
        body = r.json() if r.status_code == 200 else {"data": [], "count": None}
        seen = frozenset(world.name_of(row["pid"]) for row in body["data"])
        yield _read_cell("GET /api/scans", who, r.status_code, seen, body["count"] if r.status_code == 200 else 0)


def _jobs(client: TestClient, world: World) -> Iterator[Cell]:
    for who in USERS:
        r = client.get("/api/reductions?limit=500", headers=world.headers[who.name])
        seen = frozenset(world.name_of(job["datasetId"]) for job in (r.json() if r.status_code == 200 else []))
        yield _read_cell("GET /api/reductions", who, r.status_code, seen)


def _keys(client: TestClient, world: World) -> Iterator[Cell]:
    for who in USERS:
        r = client.get("/api/scans/keys", headers=world.headers[who.name])
        keys = r.json() if r.status_code == 200 else {}
        seen = frozenset(world.name_of_scan(k[5:]) for k in keys if k.startswith("only_"))
        yield _read_cell("GET /api/scans/keys", who, r.status_code, seen)


def _csv(client: TestClient, world: World) -> Iterator[Cell]:
    for who in USERS:
        r = client.get("/api/scans.csv?columns=scan_id", headers=world.headers[who.name])
        rows = list(csv.reader(io.StringIO(r.text)))[1:] if r.status_code == 200 else []
        yield _read_cell("GET /api/scans.csv", who, r.status_code, frozenset(world.name_of_scan(x[0]) for x in rows))


def _elog_scans(entry: dict[str, Any], world: World) -> frozenset[str]:
    return frozenset(world.name_of_scan(s) for s in re.findall(r"<td>(.*?)</td>", entry.get("html", "")))


def _elog_all(client: TestClient, world: World) -> Iterator[Cell]:
    """One export of every pid: the entry carries exactly the readable scans."""
    for who in USERS:
        sent = len(world.services.entries)
        r = client.post("/api/elog", headers=world.headers[who.name],
                        json={"pids": list(world.pids.values()), "columns": ["scan_id"]})
        entries = world.services.entries[sent:]
        seen = frozenset().union(*(_elog_scans(e, world) for e in entries))
        want = visible(who) if who.token == "valid" else frozenset()
        status = 200 if want else (401 if who.token != "valid" else 404)
        exported = r.json().get("exported", 0) if r.status_code == 200 else 0
        yield Cell("POST /api/elog (every pid)", who.name, "(all)", (status, _set(want), len(want)),
                   (r.status_code, _set(seen), exported), bool(seen - want) or exported > len(want))


@dataclass(frozen=True)
class Probe:
    """One request per (user, dataset), its expected status from the rule, and its effect in the store."""

    endpoint: str
    send: Callable[[TestClient, World, Who, Dataset], httpx.Response]
    #: Did the request change the dataset in the store, or hand it out?
    effect: Callable[[World, Who, Dataset, httpx.Response], bool]
    allowed: Callable[[Who, Dataset], bool] | None
    ok: int
    sign_in: bool = True


def _run(probe: Probe) -> Callable[[TestClient, World], Iterator[Cell]]:
    def run(client: TestClient, world: World) -> Iterator[Cell]:
        for who in USERS:
            for ds in DATASETS:
                response = probe.send(client, world, who, ds)
                status, effect = response.status_code, probe.effect(world, who, ds, response)
                want = one_status(who, ds, sign_in=probe.sign_in, allowed=probe.allowed, ok=probe.ok)
                yield Cell(probe.endpoint, who.name, ds.name, (want, want == probe.ok), (status, effect),
                           effect and want != probe.ok)
    return run


def _marker(who: Who, ds: Dataset) -> str:
    return f"by {who.name} on {ds.name}"


def _comment_id(who: Who, ds: Dataset, own: bool) -> str:
    return f"c-{'own' if own else 'other'}-{who.name}-{ds.name}"


def _seed_comments(world: World) -> None:
    """For each user and dataset, one comment of their own and one of someone else's."""
    now = datetime.now(UTC)
    world.db[COMMENT_COLLECTION].insert_many([
        {"_id": _comment_id(who, ds, own), "datasetId": world.pids[ds.name],
         "author": who.name if own else "someone-else", "text": "seeded", "createdAt": now, "updatedAt": None}
        for who in USERS for ds in DATASETS for own in (True, False)])


def _comment_text(world: World, who: Who, ds: Dataset, own: bool) -> str | None:
    doc = world.db[COMMENT_COLLECTION].find_one({"_id": _comment_id(who, ds, own)})
    return None if doc is None else str(doc["text"])


def _patch(own: bool) -> Probe:
    return Probe(
        f"PATCH /api/comments/{{{'own' if own else 'other'}}}",
        lambda c, w, who, ds: c.patch(f"/api/comments/{_comment_id(who, ds, own)}", headers=w.headers[who.name],
                                      json={"text": _marker(who, ds)}),
        lambda w, who, ds, r: _comment_text(w, who, ds, own) == _marker(who, ds),
        may_comment if own else never, 200)


def _delete(own: bool) -> Probe:
    return Probe(
        f"DELETE /api/comments/{{{'own' if own else 'other'}}}",
        lambda c, w, who, ds: c.delete(f"/api/comments/{_comment_id(who, ds, own)}",
                                       headers=w.headers[who.name]),
        lambda w, who, ds, r: _comment_text(w, who, ds, own) is None,
        may_comment if own else never, 204)


def _detail_send(c: TestClient, w: World, who: Who, ds: Dataset) -> httpx.Response:
    return c.get(f"/api/scans/{w.pids[ds.name]}", headers=w.headers[who.name])


def _detail_seen(w: World, who: Who, ds: Dataset, r: httpx.Response) -> bool:
    return r.status_code == 200 and r.json().get("pid") == w.pids[ds.name]


def _elog_send(c: TestClient, w: World, who: Who, ds: Dataset) -> httpx.Response:
    w.services.entries.clear()
    return c.post("/api/elog", headers=w.headers[who.name], json={"pids": [w.pids[ds.name]], "columns": ["scan_id"]})


def _elog_seen(w: World, who: Who, ds: Dataset, r: httpx.Response) -> bool:
    return any(ds.name in _elog_scans(e, w) for e in w.services.entries)


def _count(collection: str) -> Callable[[World, Who, Dataset, httpx.Response], bool]:
    """A write probe's effect: a document by this user on this dataset now exists."""
    def effect(w: World, who: Who, ds: Dataset, r: httpx.Response) -> bool:
        field = {RATING_COLLECTION: "user", COMMENT_COLLECTION: "author", ATTACHMENT_COLLECTION: "createdBy"}[collection]
        # An attachment names its dataset as SciCat reads it (relationships.targetId), not by datasetId.
        on = attachments_of(w.pids[ds.name]) if collection == ATTACHMENT_COLLECTION else {"datasetId": w.pids[ds.name]}
        return w.db[collection].count_documents({**on, field: who.name}) > 0
    return effect


PROBES = {
    "detail": Probe("GET /api/scans/{pid}", _detail_send, _detail_seen, None, 200, sign_in=False),
    "rating": Probe(
        "PUT /api/scans/{pid}/rating",
        lambda c, w, who, ds: c.put(f"/api/scans/{w.pids[ds.name]}/rating", json={"value": 1.5},
                                    headers=w.headers[who.name]),
        _count(RATING_COLLECTION), may_write, 200),
    "comment": Probe(
        "POST /api/scans/{pid}/comments",
        lambda c, w, who, ds: c.post(f"/api/scans/{w.pids[ds.name]}/comments", json={"text": _marker(who, ds)},
                                     headers=w.headers[who.name]),
        lambda w, who, ds, r: w.db[COMMENT_COLLECTION].count_documents({"text": _marker(who, ds)}) > 0,
        may_comment, 201),
    "comment-edit-own": _patch(own=True),
    "comment-edit-other": _patch(own=False),
    "comment-delete-own": _delete(own=True),
    "comment-delete-other": _delete(own=False),
    "attachment": Probe(
        "POST /api/scans/{pid}/attachments",
        lambda c, w, who, ds: c.post(f"/api/scans/{w.pids[ds.name]}/attachments", headers=w.headers[who.name],
                                     data={"caption": _marker(who, ds)},
                                     files={"image": ("p.png", w.png, "image/png")}),
        _count(ATTACHMENT_COLLECTION), may_write, 201),
    "rerun": Probe(
        "POST /api/scans/{pid}/reductions",
        lambda c, w, who, ds: c.post(f"/api/scans/{w.pids[ds.name]}/reductions", json={"rule": "fine"},
                                     headers=w.headers[who.name]),
        lambda w, who, ds, r: w.db[JOB_COLLECTION].count_documents({"datasetId": w.pids[ds.name],
                                                                    "requestedBy": who.name}) > 0,
        may_write, 202),
    "elog": Probe("POST /api/elog (one pid)", _elog_send, _elog_seen, None, 200),
}
# --- carts and publications -----------------------------------------------------------------
# Each dataset has a publication of its owner group: registered when the dataset is published,
# private otherwise. A private publication is seen only by its owner group (and admins): reading
# its dataset through accessGroups is not enough.


def _doi(ds: Dataset) -> str:
    return f"10.5072/matrix-{ds.name.lower()}"


def _form(world: World, ds: Dataset, title: str = "A publication") -> dict[str, Any]:
    return {"title": title, "abstract": "For the access matrix.", "creators": [{"name": "Lovelace, Ada"}],
            "publisher": "scizoo lab", "publication_year": 2026, "dataset_pids": [world.pids[ds.name]]}


def _seed_publications(world: World) -> None:
    now = datetime.now(UTC)
    for ds in DATASETS:
        doi = _doi(ds)
        doc = build_published_data(PublicationIn.model_validate(_form(world, ds)), doi=doi, owner_group=ds.owner,
                                   files=0, size=0, user="seed", now=now,
                                   landing_url=f"https://scans.example.org/doi/{doi}").to_mongo()
        if ds.published:
            doc.update(status="registered", registeredTime=now)
            assert world.datacite is not None
            world.datacite.dois[doi] = {**doc["metadata"]["datacite"], "state": "findable"}
        world.db[PUBLISHED_DATA_COLLECTION].insert_one(doc)


def _publication(w: World, ds: Dataset) -> dict[str, Any]:
    return w.db[PUBLISHED_DATA_COLLECTION].find_one({"_id": _doi(ds)}) or {}


def may_see_publication(who: Who, ds: Dataset) -> bool:
    return who.token not in BAD_TOKENS and (ds.published or may_write(who, ds))


def publication_status(who: Who, ds: Dataset, *, sign_in: bool, ok: int, public_ok: int | None = None) -> int:
    """As :func:`one_status`, over the publication: 404 when it may not be seen, 403 when seen
    but not changed, and ``public_ok`` (409: a DOI is forever) for a writer of a registered one."""
    if who.token in BAD_TOKENS or (sign_in and who.token == "none"):
        return 401
    if not may_see_publication(who, ds):
        return 404
    if public_ok is not None and not may_write(who, ds):
        return 403
    return public_ok if public_ok is not None and ds.published else ok


@dataclass(frozen=True)
class PublicationProbe:
    endpoint: str
    send: Callable[[TestClient, World, Who, Dataset], httpx.Response]
    effect: Callable[[World, Who, Dataset, httpx.Response], bool]
    ok: int
    #: For a change: what a writer gets on a registered publication (None: a read)
    public_ok: int | None = None
    sign_in: bool = True
    #: A rule of its own instead of :func:`publication_status`
    rule: Callable[[Who, Dataset], int] | None = None


def _run_publication(probe: PublicationProbe) -> Callable[[TestClient, World], Iterator[Cell]]:
    def run(client: TestClient, world: World) -> Iterator[Cell]:
        for who in USERS:
            for ds in DATASETS:
                _seed_publications(world)
                response = probe.send(client, world, who, ds)
                status, effect = response.status_code, probe.effect(world, who, ds, response)
                want = probe.rule(who, ds) if probe.rule else publication_status(
                    who, ds, sign_in=probe.sign_in, ok=probe.ok, public_ok=probe.public_ok)
                yield Cell(probe.endpoint, who.name, ds.name, (want, want == probe.ok), (status, effect),
                           effect and want != probe.ok)
                world.db[PUBLISHED_DATA_COLLECTION].delete_many({})
    return run


def _in_cart(w: World, who: Who, ds: Dataset, r: httpx.Response) -> bool:
    cart = w.db[CART_COLLECTION].find_one({"_id": who.name}) or {}
    return w.pids[ds.name] in cart.get("pids", [])


def _publication_made(w: World, who: Who, ds: Dataset, r: httpx.Response) -> bool:
    return w.db[PUBLISHED_DATA_COLLECTION].count_documents({"datasetPids": w.pids[ds.name], "createdBy": who.name}) > 0


PROBES |= {
    "cart-add": Probe(
        "PUT /api/cart", lambda c, w, who, ds: c.put("/api/cart", json={"pids": [w.pids[ds.name]]},
                                                     headers=w.headers[who.name]),
        _in_cart, may_write, 200),
    "publication-prefill": Probe(
        "GET /api/publications/prefill",
        lambda c, w, who, ds: c.get(f"/api/publications/prefill?pids={w.pids[ds.name]}", headers=w.headers[who.name]),
        lambda w, who, ds, r: r.status_code == 200 and r.json().get("dataset_pids") == [w.pids[ds.name]],
        may_write, 200),
    "publication-create": Probe(
        "POST /api/publications",
        lambda c, w, who, ds: c.post("/api/publications", json=_form(w, ds), headers=w.headers[who.name]),
        _publication_made, may_write, 201),
}
PUBLICATION_PROBES = {
    "publication-read": PublicationProbe(
        "GET /api/publications/{doi}",
        lambda c, w, who, ds: c.get(f"/api/publications/{_doi(ds)}", headers=w.headers[who.name]),
        lambda w, who, ds, r: r.status_code == 200 and r.json().get("doi") == _doi(ds), 200, sign_in=False),
    "landing-page": PublicationProbe(
        "GET /doi/{doi}", lambda c, w, who, ds: c.get(f"/doi/{_doi(ds)}", headers=w.headers[who.name]),
        lambda w, who, ds, r: r.status_code == 200 and _doi(ds) in r.text, 200,
        # The public page of a registered DOI: the same for everyone, whatever token is sent.
        rule=lambda who, ds: 200 if ds.published else 404),
    "publication-amend": PublicationProbe(
        "PUT /api/publications/{doi}",
        lambda c, w, who, ds: c.put(f"/api/publications/{_doi(ds)}", json=_form(w, ds, _marker(who, ds)),
                                    headers=w.headers[who.name]),
        lambda w, who, ds, r: _publication(w, ds).get("title") == _marker(who, ds), 200, public_ok=200),
    "publication-register": PublicationProbe(
        "POST /api/publications/{doi}/register",
        lambda c, w, who, ds: c.post(f"/api/publications/{_doi(ds)}/register", headers=w.headers[who.name]),
        lambda w, who, ds, r: not ds.published and _publication(w, ds).get("status") == "registered", 200,
        public_ok=409),
    "publication-delete": PublicationProbe(
        "DELETE /api/publications/{doi}",
        lambda c, w, who, ds: c.delete(f"/api/publications/{_doi(ds)}", headers=w.headers[who.name]),
        lambda w, who, ds, r: not _publication(w, ds), 204, public_ok=409),
}
MATRIX: dict[str, Callable[[TestClient, World], Iterator[Cell]]] = {
    "list": _list, "jobs": _jobs, "keys": _keys, "csv": _csv, "elog-every-pid": _elog_all,
    **{name: _run(probe) for name, probe in PROBES.items()},
    **{name: _run_publication(probe) for name, probe in PUBLICATION_PROBES.items()},
}


def _verdict(cells: list[Cell]) -> str:
    wrong = [c for c in cells if c.expected != c.got]
    leaks = sum(c.leak for c in cells)
    return f"{leaks} leak(s), {len(wrong)} of {len(cells)} cells differ from the rule:\n" + "\n".join(map(str, wrong))


def test_the_rule_is_pure_and_covers_every_user() -> None:
    """The rule's own table, spelled out: a reviewer checks it against SciCat by eye."""
    assert {w.name: _set(visible(w)) for w in USERS} == {
        "member-of-A": "{A, B-published, B-published-other-beamline}",
        "member-of-B": "{B, B-published, B-published-other-beamline}",
        "collaborator": "{A, B-published, B-published-other-beamline}",
        "staff": "{B-published, B-published-other-beamline}",
        "admin": "{A, B, B-published, B-published-other-beamline}",
        "anonymous": "{B-published, B-published-other-beamline}",
        "expired": "{}",
        "foreign-key": "{}",
    }
    # Staff comment only where they read (a hidden dataset is 404 to everyone), on their beamline.
    assert [(w.name, d.name) for w in USERS for d in DATASETS
            if may_read(w, d) and may_comment(w, d) and not may_write(w, d)] == [("staff", "B-published")]


@pytest.mark.parametrize("endpoint", list(MATRIX))
def test_every_cell_follows_scicats_rule(world: World, endpoint: str) -> None:
    if endpoint.startswith("comment-"):
        _seed_comments(world)
    with DataCiteStandIn() as datacite, TestClient(create_app(world.settings.model_copy(update={
            "datacite_url": datacite.url, "datacite_username": "SCIZOO.TEST",
            "datacite_password": SecretStr("dc-secret")}))) as client:
        world.datacite = datacite
        cells = list(MATRIX[endpoint](client, world))
    assert len(cells) >= len(USERS)
    assert all(c.expected == c.got for c in cells) and not any(c.leak for c in cells), _verdict(cells)


# --- the live stream ----------------------------------------------------------------------


class Stream:
    """One user's live stream, read in a thread until the sentinel scan arrives."""

    def __init__(self, url: str, headers: dict[str, str], sentinel: str) -> None:
        self.status: int | None = None
        self.pids: list[str] = []
        self.saw_sentinel = False
        self.ready = threading.Event()
        self.ended = threading.Event()
        self._sentinel = sentinel
        threading.Thread(target=self._run, args=(url, headers), daemon=True).start()

    def _run(self, url: str, headers: dict[str, str]) -> None:
        event = ""
        try:
            with httpx.stream("GET", f"{url}/api/stream", headers=headers, timeout=30) as response:
                self.status = response.status_code
                if response.status_code != 200:
                    return
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                        if event == "hello":
                            self.ready.set()
                    elif line.startswith("data:") and event == "scan":
                        pid = json.loads(line[5:])["pid"]
                        if pid == self._sentinel:
                            self.saw_sentinel = True
                            return
                        self.pids.append(pid)
        except httpx.HTTPError:
            pass
        finally:
            self.ready.set()
            self.ended.set()


def test_the_live_stream_follows_scicats_rule(world: World) -> None:
    sentinel = _document(SENTINEL)
    with ScanlogServer(world.settings, grace_s=1) as server:
        # The provider's keys first: tokens that arrive while the first fetch runs are refused
        # ("try again in a few seconds"; scizoo.web's ProviderKeys), which is not this test's matter.
        assert httpx.get(f"{server.url}/api/me", headers=world.headers["member-of-A"], timeout=30).status_code == 200
        streams = {w.name: Stream(server.url, world.headers[w.name], sentinel["pid"]) for w in USERS}
        for name, s in streams.items():
            assert s.ready.wait(20), f"the stream of {name} never answered"
        # Every dataset changes once (the stream carries changes), then the sentinel is written:
        # one change stream, in order, so a stream that has the sentinel has had everything before it.
        now = datetime.now(UTC)
        for pid in world.pids.values():
            world.db[DATASET_COLLECTION].update_one({"_id": pid}, {"$set": {"updatedAt": now}})
        world.db[DATASET_COLLECTION].insert_one(sentinel)
        wait_for(lambda: all(s.ended.is_set() for s in streams.values()), timeout=30, what="every stream's sentinel")
    cells = []
    for who in USERS:
        s = streams[who.name]
        seen = frozenset(world.name_of(p) for p in s.pids)
        cell = _read_cell("GET /api/stream", who, s.status or 0, seen)
        if s.status == 200 and not s.saw_sentinel:
            cell = Cell(cell.endpoint, who.name, "(all)", cell.expected, (*cell.got, "ended before the sentinel"),
                        cell.leak)
        cells.append(cell)
    assert all(c.expected == c.got for c in cells) and not any(c.leak for c in cells), _verdict(cells)


# --- scidog: the configuration service ------------------------------------------------------
# Its own rule, stated here as plain data: any signed-in user reads configurations; the
# beamline's staff (and admins) change them; staff of any beamline (and admins) browse the
# control system; the editor's page and its files are public (they hold no data). Every cell
# is a request to the real app (real OIDC tokens, the real store, pytango's Tango database);
# a write is also checked in the store: a refused write changed nothing.

DOG_STAFF = {"sim": "sim-staff", "other": "other-staff"}
DOG_USERS = (
    Who("reader", frozenset({"A"}), "valid"),
    Who("staff-of-sim", frozenset({"sim-staff"}), "valid"),
    Who("staff-of-other", frozenset({"other-staff"}), "valid"),
    Who("admin", frozenset({ADMINS}), "valid"),
    Who("anonymous"),
    Who("expired", frozenset({"A", *DOG_STAFF.values(), ADMINS}), "expired"),
    Who("foreign-key", frozenset({"A", *DOG_STAFF.values(), ADMINS}), "foreign"),
)


def dog_may(who: Who, rule: str) -> bool:
    """``rule``: "page" (anyone), "read" (signed in), "edit" (sim's staff, admins), "browse" (any staff, admins)."""
    if rule == "page":
        return True
    if who.token != "valid":
        return False
    if rule == "read":
        return True
    if rule == "edit":
        return who.admin or DOG_STAFF["sim"] in who.groups
    assert rule == "browse", rule
    return who.admin or bool(who.groups & set(DOG_STAFF.values()))


def dog_status(who: Who, rule: str, ok: int) -> int:
    """401 without a valid token (every API request needs one), 403 when the rule says no, else ``ok``."""
    if rule != "page" and who.token != "valid":
        return 401
    return ok if dog_may(who, rule) else 403


@dataclass
class Kennel:
    db: Any
    settings: Any  # ScidogSettings
    headers: dict[str, dict[str, str]]

    def seed(self) -> None:
        """sim: day (active) and night (at revision 2); other: day (active)."""
        for collection in (CONFIGURATION_COLLECTION, CONFIGURATION_REVISION_COLLECTION, ACTIVE_CONFIGURATION_COLLECTION):
            self.db[collection].delete_many({})
        store = ConfigStore(self.settings.mongo_uri, self.db.name)
        try:
            now = datetime.now(UTC)
            for beamline, name in (("sim", "day"), ("sim", "night"), ("other", "day")):
                store.create(BeamlineConfig(beamline=beamline, name=name, description="seeded"), "seed", now)
            store.update("sim", "night", BeamlineConfig(beamline="sim", name="night", description="second"), 1, "seed",
                         now)
        finally:
            store.close()

    def snapshot(self) -> tuple[Any, ...]:
        """Everything a write could change."""
        def rows(collection: str, *fields: str) -> list[tuple[Any, ...]]:
            return sorted(tuple(str(d.get(f)) for f in ("_id", *fields)) for d in self.db[collection].find())
        return (rows(CONFIGURATION_COLLECTION, "revision", "config"), rows(ACTIVE_CONFIGURATION_COLLECTION, "name"),
                rows(CONFIGURATION_REVISION_COLLECTION))


@pytest.fixture(scope="module")
def kennel_tango(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TangoDatabase]:
    """pytango's Tango database: its own device sys/database/2 is running, so it can be browsed."""
    with TangoDatabase(tmp_path_factory.mktemp("kennel-tango")) as tango_db:
        yield tango_db


@pytest.fixture()
def kennel(mongo, db, keys, kennel_tango: TangoDatabase) -> Iterator[Kennel]:
    key, foreign = keys
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    services = Services({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]})
    settings = ScidogSettings(
        mongo_uri=mongo.uri, database=db.name, staff_groups=DOG_STAFF, tango_host=kennel_tango.tango_host,
        oidc=OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=f"{services.url}/jwks", admin_groups=[ADMINS]))
    headers = {w.name: ({"Authorization": f"Bearer {t}"} if (t := _token(w, key, foreign)) else {}) for w in DOG_USERS}
    yield Kennel(db, settings, headers)
    services.close()


@dataclass(frozen=True)
class DogProbe:
    method: str
    path: str
    rule: str
    ok: int
    json: Any = None
    content: bytes | None = None

    @property
    def writes(self) -> bool:
        return self.method != "GET"

    def send(self, client: TestClient, headers: dict[str, str]) -> httpx.Response:
        if self.content is not None:
            headers = {**headers, "Content-Type": "application/yaml"}
        return client.request(self.method, self.path, headers=headers, json=self.json, content=self.content)


_SIM = "/api/beamlines/sim"
_IMPORTED = b"beamline: sim\nname: night\ndescription: imported\n"
DOG_PROBES = {
    "page": DogProbe("GET", "/", "page", 200),
    "page-script": DogProbe("GET", "/static/editor.js", "page", 200),
    "me": DogProbe("GET", "/api/me", "read", 200),
    "beamlines": DogProbe("GET", "/api/beamlines", "read", 200),
    "configs": DogProbe("GET", f"{_SIM}/configs", "read", 200),
    "config": DogProbe("GET", f"{_SIM}/configs/night", "read", 200),
    "active": DogProbe("GET", f"{_SIM}/active", "read", 200),
    "revisions": DogProbe("GET", f"{_SIM}/configs/night/revisions", "read", 200),
    "revision": DogProbe("GET", f"{_SIM}/configs/night/revisions/1", "read", 200),
    "diff": DogProbe("GET", f"{_SIM}/configs/night/diff?from=1&to=2", "read", 200),
    "export": DogProbe("GET", f"{_SIM}/configs/night/export", "read", 200),
    "create": DogProbe("POST", f"{_SIM}/configs", "edit", 201, json={"beamline": "sim", "name": "new"}),
    "save": DogProbe("PUT", f"{_SIM}/configs/night", "edit", 200,
                     json={"config": {"beamline": "sim", "name": "night", "description": "third"}, "base_revision": 2}),
    "duplicate": DogProbe("POST", f"{_SIM}/configs/night/duplicate", "edit", 201, json={"name": "copy"}),
    "delete": DogProbe("DELETE", f"{_SIM}/configs/night", "edit", 204),
    "activate": DogProbe("PUT", f"{_SIM}/active", "edit", 200, json={"name": "night"}),
    "restore": DogProbe("POST", f"{_SIM}/configs/night/restore", "edit", 200,
                        json={"revision": 1, "base_revision": 2}),
    "import": DogProbe("POST", "/api/import", "edit", 201, content=_IMPORTED),
    "tango-devices": DogProbe("GET", "/api/tango/devices?q=database", "browse", 200),
    "tango-attributes": DogProbe("GET", "/api/tango/attributes?device=sys/database/2", "browse", 200),
    "tango-value": DogProbe("GET", "/api/tango/value?device=sys/database/2&attribute=State", "browse", 200),
}


def test_scidogs_rule_is_pure_and_covers_every_user() -> None:
    """scidog's rule, spelled out per user: who reads, who changes sim's configurations, who browses Tango."""
    assert {w.name: [rule for rule in ("read", "edit", "browse") if dog_may(w, rule)] for w in DOG_USERS} == {
        "reader": ["read"],
        "staff-of-sim": ["read", "edit", "browse"],
        "staff-of-other": ["read", "browse"],
        "admin": ["read", "edit", "browse"],
        "anonymous": [],
        "expired": [],
        "foreign-key": [],
    }


@pytest.mark.parametrize("endpoint", list(DOG_PROBES))
def test_every_scidog_cell_follows_its_rule(kennel: Kennel, endpoint: str) -> None:
    probe = DOG_PROBES[endpoint]
    cells = []
    with TestClient(create_scidog(kennel.settings)) as client:
        for who in DOG_USERS:
            kennel.seed()
            before = kennel.snapshot()
            response = probe.send(client, kennel.headers[who.name])
            changed = kennel.snapshot() != before
            want = dog_status(who, probe.rule, probe.ok)
            expected, got = (want, probe.writes and want == probe.ok), (response.status_code, changed)
            leak = (changed and want != probe.ok) or (response.status_code == probe.ok and want != probe.ok)
            cells.append(Cell(f"{probe.method} {probe.path}", who.name, "(scidog)", expected, got, leak))
    assert all(c.expected == c.got for c in cells) and not any(c.leak for c in cells), _verdict(cells)


# --- saved views -----------------------------------------------------------------------------
# Their own rule, as plain data: a view is read by its owner, and, once shared with a proposal,
# by the members of that proposal's ownerGroup and by admins; only its owner changes or deletes
# it (admins included); sharing needs the proposal's group (or an admin). Without a valid token
# every call is 401; a view one may not read is 404 (its existence never leaks). Each cell is a
# request to the real app over SecantusDB, a change also checked in the store.


@dataclass(frozen=True)
class View:
    name: str
    owner: str  # a user's name
    group: str | None  # the ownerGroup of the proposal it is shared with


VIEWS = (View("A-private", "member-of-A", None), View("A-shared", "member-of-A", "A"),
         View("B-shared", "member-of-B", "B"))


def may_read_view(who: Who, view: View) -> bool:
    return who.token == "valid" and (view.owner == who.name
                                     or (view.group is not None and (who.admin or view.group in who.groups)))


def view_status(who: Who, view: View, *, change: bool, ok: int) -> int:
    if who.token != "valid":
        return 401
    if not may_read_view(who, view):
        return 404
    return 403 if change and view.owner != who.name else ok


def _seed_views(db: Any) -> None:
    db[VIEW_COLLECTION].delete_many({})
    now = datetime(2026, 12, 1, tzinfo=UTC)
    db["Proposal"].delete_many({"_id": {"$in": ["A", "B"]}})
    db["Proposal"].insert_many([{"_id": g, "ownerGroup": g, "accessGroups": []} for g in ("A", "B")])
    db[VIEW_COLLECTION].insert_many([SavedView(
        id=v.name, owner=v.owner, name=v.name, columns=["scan_id"], sharedWith=v.group, sharedGroup=v.group,
        createdAt=now, updatedAt=now).to_mongo() for v in VIEWS])


def _view_body(name: str, shared: str | None = None) -> dict[str, Any]:
    return {"name": name, "columns": ["scan_id", "title"], "where": ["only_1:gt:0"], "sharedWith": shared}


def test_the_views_rule_is_pure_and_covers_every_user() -> None:
    assert {w.name: [v.name for v in VIEWS if may_read_view(w, v)] for w in USERS} == {
        "member-of-A": ["A-private", "A-shared"], "member-of-B": ["B-shared"], "collaborator": [], "staff": [],
        "admin": ["A-shared", "B-shared"], "anonymous": [], "expired": [], "foreign-key": []}


def test_every_views_cell_follows_its_rule(world: World) -> None:
    cells: list[Cell] = []

    def snapshot() -> list[Any]:
        return sorted((str(d["_id"]), d["name"], d.get("sharedGroup")) for d in world.db[VIEW_COLLECTION].find())

    def cell(endpoint: str, who: Who, target: str, want: int, ok: int, r: httpx.Response, changed: bool,
             writes: bool) -> None:
        expected, got = (want, writes and want == ok), (r.status_code, changed)
        leak = (r.status_code == ok and want != ok) or (changed and want != ok)
        cells.append(Cell(endpoint, who.name, target, expected, got, leak))

    with TestClient(create_app(world.settings)) as client:
        for who in USERS:
            h = world.headers[who.name]
            _seed_views(world.db)
            r = client.get("/api/views", headers=h)
            want_names = {v.name for v in VIEWS if may_read_view(who, v)}
            seen = {v["name"] for v in r.json()["data"]} if r.status_code == 200 else set()
            expected_list = (401 if who.token != "valid" else 200, _set(frozenset(want_names)))
            cells.append(Cell("GET /api/views", who.name, "(all)", expected_list,
                              (r.status_code, _set(frozenset(seen))), bool(seen - want_names)))
            for v in VIEWS:
                probes = (("GET", lambda: client.get(f"/api/views/{v.name}", headers=h), False, 200),
                          ("PUT", lambda: client.put(f"/api/views/{v.name}", json=_view_body("renamed"), headers=h),
                           True, 200),
                          ("DELETE", lambda: client.delete(f"/api/views/{v.name}", headers=h), True, 204))
                for method, send, change, ok in probes:
                    _seed_views(world.db)
                    before = snapshot()
                    r = send()
                    cell(f"{method} /api/views/{{id}}", who, v.name, view_status(who, v, change=change, ok=ok), ok, r,
                         snapshot() != before, change)
            for proposal in ("A", "B"):
                _seed_views(world.db)
                before = snapshot()
                r = client.post("/api/views", json=_view_body(f"new-{proposal}", proposal), headers=h)
                want = 401 if who.token != "valid" else 201 if (who.admin or proposal in who.groups) else 422
                cell("POST /api/views (shared)", who, f"proposal {proposal}", want, 201, r, snapshot() != before, True)
    assert len(cells) == len(USERS) * (1 + 3 * len(VIEWS) + 2)
    assert all(c.expected == c.got for c in cells) and not any(c.leak for c in cells), _verdict(cells)

"""scanlog against small local HTTP services that behave like an OIDC provider's JWKS
endpoint and a facility's e-logbook (neither can run here)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from scanlog_api import OidcSettings, ScanlogSettings, create_app
from scizoo.core import DATASET_COLLECTION
from scizoo.testing import JsonHandler
from tests.system.test_scan_api import _dataset

pytestmark = pytest.mark.system
ISSUER, AUDIENCE = "https://login.example.org/realms/facility", "scanlog"


class Services:
    """GET /jwks answers the provider's keys; POST /entries records e-logbook entries."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.entries: list[dict[str, Any]] = []
        services = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                self.reply(200, jwks) if self.path == "/jwks" else self.reply(404, {})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                body["authorization"] = self.headers.get("Authorization")
                services.entries.append(body)
                self.reply(201, {"id": body.get("entry_id") or f"entry-{len(services.entries)}"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        if self.server.fileno() != -1:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture()
def services(key) -> Iterator[Services]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    svc = Services({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]})
    yield svc
    svc.close()


def _token(key: Any, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 300, "iat": now, "preferred_username": "alice",
              "groups": ["/A"], **overrides}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture()
def client(mongo, db, services: Services) -> Iterator[TestClient]:
    db[DATASET_COLLECTION].insert_many([_dataset(1, "A", title="<script>alert(1)</script>"), _dataset(2, "B")])
    settings = ScanlogSettings(
        mongo_uri=mongo.uri, database=db.name, elog_url=f"{services.url}/entries", elog_token="elog-secret",
        oidc=OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=f"{services.url}/jwks"),
    )
    with TestClient(create_app(settings)) as c:
        yield c


def test_provider_tokens_are_checked_and_their_groups_used(client: TestClient, key) -> None:
    good = client.get("/api/scans", headers={"Authorization": f"Bearer {_token(key)}"})
    assert good.status_code == 200
    assert [r["proposal"] for r in good.json()["data"]] == ["A"]  # Keycloak's "/A" is group A
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for bad in (_token(key, exp=int(time.time()) - 10), _token(key, aud="other"), _token(key, iss="https://evil"),
                _token(other_key), jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "groups": ["A"]}, "", algorithm="none")):
        answer = client.get("/api/scans", headers={"Authorization": f"Bearer {bad}"})
        assert answer.status_code == 401, bad


def test_export_to_the_elogbook(client: TestClient, key, services: Services) -> None:
    auth = {"Authorization": f"Bearer {_token(key)}"}
    pids = [r["pid"] for r in client.get("/api/scans", headers=auth).json()["data"]]
    b_pid = _dataset(2, "B")["pid"]
    made = client.post("/api/elog", headers=auth, json={"pids": [*pids, b_pid], "columns": ["scan_id", "title"]})
    assert made.status_code == 200 and made.json()["exported"] == 1  # B's scan is not alice's to export
    entry = services.entries[-1]
    assert entry["title"] == "Exported from Scanlog" and entry["author"] == "alice"
    assert entry["authorization"] == "Bearer elog-secret"
    assert "&lt;script&gt;" in entry["html"] and "<script>" not in entry["html"]
    assert made.json()["elog"] == {"id": "entry-1"}
    appended = client.post("/api/elog", headers=auth, json={"pids": pids, "entry_id": "entry-1", "title": "Day 2"})
    assert appended.status_code == 200 and services.entries[-1]["entry_id"] == "entry-1"
    # Only entries made through scanlog by the same user take an append.
    foreign = client.post("/api/elog", headers=auth, json={"pids": pids, "entry_id": "e-7"})
    assert foreign.status_code == 403
    bob = {"Authorization": f"Bearer {_token(key, preferred_username='bob', groups=['/A'])}"}
    assert client.post("/api/elog", headers=bob, json={"pids": pids, "entry_id": "entry-1"}).status_code == 403
    # Nothing readable: nothing is sent.
    sent = len(services.entries)
    assert client.post("/api/elog", headers=auth, json={"pids": [b_pid]}).status_code == 404
    assert len(services.entries) == sent
    assert client.post("/api/elog", json={"pids": pids}).status_code == 401
    services.close()
    down = client.post("/api/elog", headers=auth, json={"pids": pids})
    assert down.status_code == 502 and "e-logbook" in down.json()["detail"]


def test_the_elogbook_may_check_the_users_own_token(mongo, db, services: Services, key) -> None:
    db[DATASET_COLLECTION].insert_one(_dataset(1, "A"))
    settings = ScanlogSettings(
        mongo_uri=mongo.uri, database=db.name, elog_url=f"{services.url}/entries", elog_token="elog-secret",
        elog_forward_user_token=True,
        oidc=OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=f"{services.url}/jwks"),
    )
    token = _token(key)
    with TestClient(create_app(settings)) as client:
        auth = {"Authorization": f"Bearer {token}"}
        pids = [r["pid"] for r in client.get("/api/scans", headers=auth).json()["data"]]
        answer = client.post("/api/elog", headers=auth, json={"pids": pids, "entry_id": "e-7"})
    assert answer.status_code == 200  # the e-logbook, which sees alice's own token, decides
    assert services.entries[-1]["authorization"] == f"Bearer {token}"

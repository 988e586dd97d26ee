"""scanlog against small local HTTP services that behave like an OIDC provider's JWKS
endpoint and a facility's e-logbook (neither can run here)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from scanlog_api import OidcSettings, ScanlogServer, ScanlogSettings, TokenUser, create_app
from scizoo.core import DATASET_COLLECTION
from scizoo.testing import JsonHandler
from tests.helpers import wait_for
from tests.system.test_live_stream import Listener
from tests.system.test_scan_api import _dataset

pytestmark = pytest.mark.system
ISSUER, AUDIENCE = "https://login.example.org/realms/facility", "scanlog"


class Services:
    """GET /jwks answers the provider's keys; POST /entries records e-logbook entries.

    The key set can be changed (``jwks``), made to fail (``jwks_status``) or held until the
    test opens ``jwks_gate``; ``jwks_requests`` counts the fetches.
    """

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.entries: list[dict[str, Any]] = []
        self.jwks = jwks
        self.jwks_status = 200
        self.jwks_requests = 0
        self.jwks_gate = threading.Event()
        self.jwks_gate.set()
        services = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                if self.path != "/jwks":
                    self.reply(404, {})
                    return
                services.jwks_requests += 1
                services.jwks_gate.wait(60)
                self.reply(services.jwks_status, services.jwks)

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


def _token(key: Any, kid: str = "k1", **overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 300, "iat": now, "preferred_username": "alice",
              "groups": ["/A"], **overrides}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


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


# --- the provider's keys: fetched off the event loop, at most once per interval --------------


@contextmanager
def _served(mongo, db, services: Services, **oidc: Any) -> Iterator[ScanlogServer]:
    settings = ScanlogSettings(
        mongo_uri=mongo.uri, database=db.name, tokens={"ta": TokenUser(user="alice", groups=["A"])},
        oidc=OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=f"{services.url}/jwks", **oidc))
    with ScanlogServer(settings, grace_s=1) as server:
        yield server


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_slow_provider_stalls_no_other_request_nor_the_live_stream(mongo, db, services: Services, key) -> None:
    db[DATASET_COLLECTION].insert_one(_dataset(1, "A"))
    known = _token(key)
    with _served(mongo, db, services, jwks_refetch_s=0.1) as server:
        listener = Listener(server.url, _bearer("ta"))

        def held_while(token: str, *, still_known: str | None) -> list[int]:
            """Send ``token`` while the provider holds its answer; check that the rest goes on."""
            fetched = services.jwks_requests
            services.jwks_gate.clear()  # the provider answers only when the test says so
            answers: list[int] = []
            asking = threading.Thread(target=lambda: answers.append(
                httpx.get(f"{server.url}/api/me", headers=_bearer(token), timeout=30).status_code))
            # A write with a JWT of a key not known: during the first fetch (no keys yet) it waits
            # for that fetch (its only chance; at most the fetch's timeout), and is then refused;
            # once keys are known it is refused at once.
            writes: list[httpx.Response] = []
            writing = threading.Thread(target=lambda: writes.append(httpx.put(
                f"{server.url}/api/scans/x/rating", headers=_bearer(_token(key, kid="k3")), json={"value": 1},
                timeout=30)))
            try:
                asking.start()
                wait_for(lambda: services.jwks_requests == fetched + 1, timeout=10, what="the held fetch of the keys")
                writing.start()
                if still_known:
                    writing.join(10)
                    assert not writing.is_alive(), "a token of an unknown key id waited while keys are known"
                # Meanwhile a static token, a known key's token and the live stream are answered at once.
                assert httpx.get(f"{server.url}/api/scans", headers=_bearer("ta"), timeout=10).status_code == 200
                if still_known:
                    assert httpx.get(f"{server.url}/api/me", headers=_bearer(still_known), timeout=10).status_code == 200
                scan = str(len(listener.scans()) + 10)
                db[DATASET_COLLECTION].insert_one(_dataset(int(scan), "A"))
                wait_for(lambda: scan in listener.scans(), timeout=20, what="the live row written meanwhile")
                assert asking.is_alive() and services.jwks_requests == fetched + 1  # still held; no second fetch
            finally:
                services.jwks_gate.set()
            asking.join(30)
            writing.join(30)
            assert writes[0].status_code == 401 and "signing key" in writes[0].json()["detail"]
            return answers

        # The first token: the keys are fetched (held), and then it is accepted.
        assert held_while(known, still_known=None) == [200]
        time.sleep(0.2)  # past the interval: an unknown key id may fetch again
        # A key id the provider does not have either: the known key's tokens never wait for it.
        assert held_while(_token(key, kid="k2"), still_known=known) == [401]


def test_a_burst_of_unknown_key_ids_costs_one_fetch_per_interval(mongo, db, services: Services, key) -> None:
    interval = 2.0
    with _served(mongo, db, services, jwks_refetch_s=interval) as server:
        services.jwks_status = 503  # a provider that is down is not asked once per token either
        tokens = [_token(key, kid=f"made-up-{n}") for n in range(20)]

        def burst() -> int:
            """The fetches a burst of 20 unknown key ids may cost: one, and one more for each
            interval the burst itself took (on a busy machine it may take longer than one)."""
            started = time.monotonic()
            with ThreadPoolExecutor(10) as pool:
                answers = set(pool.map(lambda t: httpx.get(f"{server.url}/api/me", headers=_bearer(t),
                                                           timeout=30).status_code, tokens))
            assert answers == {401}
            return 1 + int((time.monotonic() - started) // interval)

        allowed = burst()
        assert 1 <= services.jwks_requests <= allowed  # 20 before: one fetch per token
        time.sleep(interval + 0.1)
        # The provider is back and rotated in k2: after the interval a k2 token fetches once, and works.
        services.jwks_status = 200
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        services.jwks = {"keys": [{**public, "kid": "k2", "use": "sig", "alg": "RS256"}]}
        before = services.jwks_requests
        rotated = httpx.get(f"{server.url}/api/me", headers=_bearer(_token(key, kid="k2")), timeout=30)
        assert rotated.status_code == 200 and rotated.json()["user"] == "alice"
        assert services.jwks_requests == before + 1
        # Right after a fetch: a burst of unknown key ids fetches nothing until the interval is over.
        allowed = burst()
        assert services.jwks_requests <= before + allowed


def test_keys_are_fetched_again_when_old_and_a_withdrawn_key_stops_working(mongo, db, services: Services,
                                                                          key) -> None:
    token = _token(key)
    with _served(mongo, db, services, jwks_lifespan_s=0.5, jwks_refetch_s=0.1) as server:
        def me() -> int:
            return httpx.get(f"{server.url}/api/me", headers=_bearer(token), timeout=10).status_code

        assert me() == 200 and services.jwks_requests == 1
        time.sleep(0.6)  # the keys are older than their lifespan
        services.jwks_gate.clear()
        try:
            assert me() == 200  # the old keys serve while the new ones are fetched in the background
            wait_for(lambda: services.jwks_requests == 2, timeout=10, what="the background fetch")
        finally:
            services.jwks_gate.set()
        # The provider withdraws k1: once the keys are fetched again, its tokens are refused.
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        services.jwks = {"keys": [{**public, "kid": "k2", "use": "sig", "alg": "RS256"}]}
        time.sleep(0.6)
        wait_for(lambda: me() == 401, timeout=10, what="the withdrawn key refused")


def test_tokens_that_arrive_while_the_keys_are_first_fetched_wait_for_that_fetch(mongo, db, services: Services,
                                                                                key) -> None:
    """No keys are known yet and one fetch is under way: a second token of the same key waits for
    it (at most the fetch's timeout) rather than being refused, and costs no fetch of its own."""
    token = _token(key)
    with _served(mongo, db, services, jwks_refetch_s=30) as server:
        services.jwks_gate.clear()
        answers: list[int] = []

        def ask() -> None:
            answers.append(httpx.get(f"{server.url}/api/me", headers=_bearer(token), timeout=30).status_code)

        first, second = threading.Thread(target=ask), threading.Thread(target=ask)
        try:
            first.start()
            wait_for(lambda: services.jwks_requests == 1, timeout=10, what="the first fetch of the keys, held")
            second.start()
            time.sleep(0.5)  # the second token is in, waiting
        finally:
            services.jwks_gate.set()
        first.join(30)
        second.join(30)
    assert (answers, services.jwks_requests) == ([200, 200], 1)

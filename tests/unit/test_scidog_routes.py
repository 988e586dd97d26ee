"""scidog's routes and rules over its in-memory store and control system (scidog.testing): no services, seconds.

The same app as in production (create_app, its dependencies, body checks, error handling),
built over FakeConfigStore and FakeControlSystem; tests/system/test_store_contract.py holds
the fake store to the real one's behaviour, tests/system/test_scidog.py the whole on Tango.
"""

from __future__ import annotations

import pytest
import yaml
from fastapi.testclient import TestClient

from scidog import ScidogSettings, create_app
from scidog.testing import FakeConfigStore, FakeControlSystem
from scizoo.web import TokenUser

STAFF = {"Authorization": "Bearer staff"}
USER = {"Authorization": "Bearer user"}
OTHER = {"Authorization": "Bearer other"}
ADMIN = {"Authorization": "Bearer admin"}
TOKENS = {"staff": TokenUser(user="sam", groups=["sim-staff"]), "user": TokenUser(user="ada", groups=["A"]),
          "other": TokenUser(user="olga", groups=["other-staff"]), "admin": TokenUser(user="root", admin=True)}
DEVICES = {"sim/motor/x": {"position": 1.5, "state_code": 4, "trace": [1, 2]}, "sim/dead/1": None}


def config(name: str = "default", *entries: tuple[str, str, str], **fields: object) -> dict:
    return {"beamline": "sim", "name": name, **fields,
            "attributes": [{"name": n, "device": d, "attribute": a} for n, d, a in entries]}


@pytest.fixture()
def store() -> FakeConfigStore:
    return FakeConfigStore()


@pytest.fixture()
def client(store):
    settings = ScidogSettings(tokens=TOKENS, staff_groups={"sim": "sim-staff", "other": "other-staff"})
    with TestClient(create_app(settings, store=store, browser=FakeControlSystem(DEVICES))) as c:
        yield c


def _create(client, body: dict, headers: dict = STAFF):
    return client.post("/api/beamlines/sim/configs", json=body, headers=headers)


def test_only_the_beamlines_staff_and_admins_change_its_configurations(client, store) -> None:
    body = config("default", ("x", "sim/motor/x", "position"))
    assert _create(client, body, USER).status_code == 403
    assert _create(client, body, OTHER).status_code == 403
    assert client.post("/api/beamlines/sim/configs", json=body).status_code == 401
    assert store.configs == {}  # nothing refused was written
    assert _create(client, body).json()["revision"] == 1
    assert _create(client, config("second"), ADMIN).status_code == 201
    # Every signed-in user reads them.
    assert [c["name"] for c in client.get("/api/beamlines/sim/configs", headers=USER).json()["data"]] == [
        "default", "second"]
    assert client.get("/api/beamlines/sim/active", headers=USER).json()["name"] == "default"  # the first one
    assert client.get("/api/beamlines", headers=USER).json() == ["sim"]


def test_a_configuration_is_checked_against_the_control_system_field_by_field(client) -> None:
    refused = _create(client, config("bad", ("a", "sim/motor/y", "position"), ("b", "sim/motor/x", "nothing"),
                                     ("c", "tango://evil:10000/a/b/c", "x")))
    assert refused.status_code == 422
    assert [p["field"] for p in refused.json()["problems"]] == [
        "attributes.0.device", "attributes.1.attribute", "attributes.2.device"]
    mapped = config("map", ("t", "sim/motor/x", "trace"))
    mapped["attributes"][0]["mapping"] = {"1": "one"}
    assert _create(client, mapped).json()["problems"][0]["field"] == "attributes.0.mapping"
    # A device defined but not running cannot be asked: its entries are not refused for that.
    assert _create(client, config("dead", ("d", "sim/dead/1", "position"))).status_code == 201
    wrong = _create(client, {**config("other"), "beamline": "other"})
    assert wrong.status_code == 422 and wrong.json()["problems"][0]["field"] == "beamline"


def test_a_save_from_a_stale_revision_is_refused_and_every_save_is_a_revision(client) -> None:
    _create(client, config("default", ("x", "sim/motor/x", "position")))
    url = "/api/beamlines/sim/configs/default"
    first = client.put(url, headers=STAFF, json={"config": config(description="one"), "base_revision": 1})
    assert first.json()["revision"] == 2
    stale = client.put(url, headers=STAFF, json={"config": config(description="two"), "base_revision": 1})
    assert stale.status_code == 409 and "revision 2 (by sam)" in stale.json()["detail"]
    history = client.get(f"{url}/revisions", headers=USER).json()["data"]
    assert [(r["revision"], r["by"]) for r in history] == [(2, "sam"), (1, "sam")]
    restored = client.post(f"{url}/restore", headers=STAFF, json={"revision": 1, "base_revision": 2}).json()
    assert restored["revision"] == 3 and restored["description"] == ""
    assert client.get(f"{url}/revisions", headers=USER).json()["data"][0]["change"] == "restored revision 1"
    changed = client.get(f"{url}/diff", headers=USER, params={"from": 1, "to": 2}).json()
    assert changed and client.get(f"{url}/revisions/9", headers=USER).status_code == 404


def test_the_active_configuration_is_not_deleted_and_a_deleted_one_starts_afresh(client) -> None:
    _create(client, config("default"))
    _create(client, config("spare"))
    base = "/api/beamlines/sim"
    assert client.delete(f"{base}/configs/default", headers=STAFF).status_code == 409
    assert client.put(f"{base}/active", headers=STAFF, json={"name": "spare"}).json()["name"] == "spare"
    assert client.put(f"{base}/active", headers=STAFF, json={"name": "nothing"}).status_code == 404
    assert client.delete(f"{base}/configs/default", headers=STAFF).status_code == 204
    assert client.delete(f"{base}/configs/default", headers=STAFF).status_code == 404
    again = _create(client, config("default", description="new"))
    assert again.json()["revision"] == 1
    assert len(client.get(f"{base}/configs/default/revisions", headers=USER).json()["data"]) == 1
    copy = client.post(f"{base}/configs/spare/duplicate", headers=STAFF, json={"name": "copy"})
    assert copy.status_code == 201 and copy.json()["name"] == "copy"
    assert client.post(f"{base}/configs/spare/duplicate", headers=STAFF, json={"name": "copy"}).status_code == 409


def test_yaml_import_and_export(client) -> None:
    text = yaml.safe_dump(config("imported", ("x", "sim/motor/x", "position")))
    yaml_headers = {"Content-Type": "application/yaml"}
    assert client.post("/api/import", content=text, headers={**USER, **yaml_headers}).status_code == 403
    assert client.post("/api/import", content=text, headers={**OTHER, **yaml_headers}).status_code == 403  # not sim's
    made = client.post("/api/import", content=text, headers={**STAFF, **yaml_headers})
    assert made.status_code == 201 and made.json()["revision"] == 1
    assert client.post("/api/import", content=text, headers={**STAFF, **yaml_headers}).json()["revision"] == 2
    exported = client.get("/api/beamlines/sim/configs/imported/export", headers=USER)
    assert yaml.safe_load(exported.text)["attributes"][0]["device"] == "sim/motor/x"


def test_only_staff_browse_the_control_system(client) -> None:
    assert client.get("/api/tango/devices", headers=USER, params={"q": "motor"}).status_code == 403
    assert client.get("/api/tango/devices", headers=OTHER, params={"q": "motor"}).json() == ["sim/motor/x"]
    names = [a["name"] for a in client.get("/api/tango/attributes", headers=STAFF,
                                           params={"device": "sim/motor/x"}).json()]
    assert names == ["position", "state_code", "trace"]
    got = client.get("/api/tango/value", headers=STAFF, params={"device": "sim/motor/x", "attribute": "position"})
    assert got.json()["value"] == 1.5
    assert client.get("/api/tango/attributes", headers=STAFF, params={"device": "sim/dead/1"}).status_code == 502
    assert client.get("/api/tango/attributes", headers=STAFF, params={"device": "h:1/a/b/c"}).status_code == 422


def test_techniques_survive_export_and_import_and_are_a_change_only_when_changed(client) -> None:
    """A configuration with techniques exported and imported again is the same configuration:
    its revision says no change and the diff is empty (the diff compared stored techniques
    with models, so every save said 'set techniques'); a change of techniques is named."""
    made = _create(client, config("tech", ("x", "sim/motor/x", "position"), techniques=["XAS"]))
    assert made.status_code == 201, made.text
    url = "/api/beamlines/sim/configs/tech"
    exported = client.get(f"{url}/export", headers=USER).text
    again = client.post("/api/import", content=exported,
                        headers={**STAFF, "Content-Type": "application/yaml"})
    assert again.json()["revision"] == 2 and again.json()["techniques"] == made.json()["techniques"]
    assert client.get(f"{url}/revisions", headers=USER).json()["data"][0]["change"] == "imported: no change"
    assert client.get(f"{url}/diff", headers=USER, params={"from": 1, "to": 2}).json()["fields"] == {}
    dropped = client.put(url, headers=STAFF, json={"config": config("tech", ("x", "sim/motor/x", "position")),
                                                   "base_revision": 2})
    assert dropped.json()["revision"] == 3
    assert client.get(f"{url}/revisions", headers=USER).json()["data"][0]["change"] == "set techniques"
    fields = client.get(f"{url}/diff", headers=USER, params={"from": 2, "to": 3}).json()["fields"]
    assert fields == {"techniques": [made.json()["techniques"], []]}

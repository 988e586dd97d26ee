"""scidog over a real Tango database (pytango's databaseds on sqlite) and real devices."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from fastapi.testclient import TestClient

from scidog import ScidogSettings, create_app
from scifish.testing import SimulatedBeamline, TangoDatabase, demo_devices
from scizoo.core import (
    CONFIGURATION_COLLECTION,
    CONFIGURATION_REVISION_COLLECTION,
    DATASET_COLLECTION,
    BeamlineConfig,
    parse_beamline_config,
)
from scizoo.web import TokenUser
from tests.helpers import wait_for
from tests.system.test_scanlog_limits import _raw

pytestmark = pytest.mark.system
STAFF = {"Authorization": "Bearer staff"}
USER = {"Authorization": "Bearer user"}
#: Staff of another beamline: may browse the control system, may not change sim's configurations.
OTHER = {"Authorization": "Bearer other"}
TOKENS = {"staff": TokenUser(user="sam", groups=["sim-staff"]), "user": TokenUser(user="ada", groups=["A"]),
          "other": TokenUser(user="olga", groups=["other-staff"])}


@pytest.fixture(scope="module")
def tango_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TangoDatabase]:
    with TangoDatabase(tmp_path_factory.mktemp("tangodb")) as db:
        db.register([f"bl/mot/{n:03d}" for n in range(300)], "SimMotor", "SimMotor/bl")
        db.register(["sim/motor/x", "sim/shutter/1", "sim/energy/1", "sim/temp/1"], "Sim", "Sim/demo")
        db.register(["bl/dead/1"], "SimMotor", "SimMotor/dead")  # defined, never started
        yield db


@pytest.fixture(scope="module")
def devices(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatedBeamline]:
    with SimulatedBeamline(demo_devices("20240001", str(tmp_path_factory.mktemp("raw")))) as beamline:
        yield beamline


def _settings(mongo, db, tango_db: TangoDatabase, devices: SimulatedBeamline, **changes: Any) -> ScidogSettings:
    return ScidogSettings(
        mongo_uri=mongo.uri, database=db.name, tango_host=tango_db.tango_host, device_addresses=devices.addresses,
        staff_groups={"sim": "sim-staff", "other": "other-staff"}, device_timeout_s=0.5, tokens=TOKENS, **changes)


@pytest.fixture()
def client(mongo, db, tango_db: TangoDatabase, devices: SimulatedBeamline) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(mongo, db, tango_db, devices))) as c:
        yield c


def _config(**changes: object) -> dict:
    base = {"beamline": "sim", "name": "day", "description": "day shift", "attributes": [
        {"name": "sample_x", "group": "sample", "device": "sim/motor/x", "attribute": "position", "unit": "mm"},
        {"name": "shutter", "group": "beam", "device": "sim/shutter/1", "attribute": "state_code",
         "mapping": {"4": "inserted", "1": "open"}},
    ]}
    return {**base, **changes}


def test_type_ahead_attributes_and_a_live_value(client: TestClient) -> None:
    found = client.get("/api/tango/devices?q=MOT/01", headers=STAFF).json()
    assert found[:3] == ["bl/mot/010", "bl/mot/011", "bl/mot/012"] and len(found) == 10
    assert client.get("/api/tango/devices?q=*", headers=STAFF).status_code == 200  # a wildcard is just text
    attrs = {a["name"]: a for a in client.get("/api/tango/attributes?device=sim/energy/1", headers=STAFF).json()}
    assert attrs["energy"]["unit"] == "eV" and attrs["energy"]["scalar"]
    assert not attrs["spectrum"]["scalar"]
    value = client.get("/api/tango/value?device=sim/motor/x&attribute=position", headers=STAFF).json()
    assert isinstance(value["value"], float) and value["quality"] == "ATTR_VALID"
    started = time.monotonic()
    dead = client.get("/api/tango/value?device=bl/dead/1&attribute=position", headers=STAFF)
    assert dead.status_code == 502 and "bl/dead/1" in dead.json()["detail"]
    assert time.monotonic() - started < 10
    assert client.get("/api/tango/devices?q=mot").status_code == 401


TANGO_READS = ("/api/tango/devices?q=mot", "/api/tango/attributes?device=sim/motor/x",
               "/api/tango/value?device=sim/motor/x&attribute=position")


def test_only_beamline_staff_make_scidog_ask_the_control_system(client: TestClient) -> None:
    """Staff of any beamline browse (a device is no one beamline's); a signed-in user who is no
    beamline's staff is refused before anything is asked."""
    for path in TANGO_READS:
        refused = client.get(path, headers=USER)
        assert refused.status_code == 403, (path, refused.text)
        assert "beamline staff" in refused.json()["detail"]
        assert client.get(path, headers=OTHER).status_code == 200, path
        assert client.get(path, headers=STAFF).status_code == 200, path


def test_only_devices_of_the_configured_database_are_asked(client: TestClient, tango_db: TangoDatabase,
                                                           devices: SimulatedBeamline) -> None:
    """A name with a host, a port or another database is refused before anything is dialled: scidog
    is no port scanner. A device the database does not define is not found (nothing dialled)."""
    served_elsewhere = devices.addresses["sim/motor/x"]  # tango://127.0.0.1:PORT/sim/motor/x#dbase=no
    for device in (served_elsewhere, f"tango://{tango_db.tango_host}/sys/database/2",
                   f"{tango_db.tango_host}/sys/database/2", "sys/database/2#dbase=no", "tango://127.0.0.1:1/a/b/c",
                   "127.0.0.1:22/a/b/c", "sim/motor"):
        for read in ("attributes", "value"):
            answer = client.get(f"/api/tango/{read}", params={"device": device, "attribute": "State"}, headers=STAFF)
            assert answer.status_code == 422, (device, answer.status_code, answer.text)
            assert "not a device name of the facility's Tango database" in answer.json()["detail"]
    unknown = client.get("/api/tango/attributes", params={"device": "no/such/dev"}, headers=STAFF)
    assert unknown.status_code == 404 and "no device 'no/such/dev'" in unknown.json()["detail"]
    # The configured database's own devices, by their plain names (and case-insensitively).
    database = client.get("/api/tango/value", params={"device": "SYS/Database/2", "attribute": "State"},
                          headers=STAFF)
    assert database.status_code == 200 and database.json()["value"] == "ON"
    # Saving a configuration that names another database is refused next to the field.
    elsewhere = _config(attributes=[{"name": "x", "device": served_elsewhere, "attribute": "position"}])
    saved = client.post("/api/beamlines/sim/configs", headers=STAFF, json=elsewhere)
    assert saved.status_code == 422 and [p["field"] for p in saved.json()["problems"]] == ["attributes.0.device"]


def test_device_proxies_are_kept_in_a_bounded_cache(mongo, db, tango_db: TangoDatabase,
                                                    devices: SimulatedBeamline) -> None:
    with TestClient(create_app(_settings(mongo, db, tango_db, devices, proxy_cache_size=2))) as c:
        browser = c.app.state.browser  # type: ignore[attr-defined]
        for device in ("sim/motor/x", "sim/shutter/1", "sim/energy/1", "sys/database/2", "sim/motor/x"):
            assert c.get("/api/tango/attributes", params={"device": device}, headers=STAFF).status_code == 200
            assert browser.cached_proxies() <= 2
        assert browser.cached_proxies() == 2


def test_validation_says_what_to_correct(client: TestClient) -> None:
    def problems(config: dict) -> list[str]:
        answer = client.post("/api/beamlines/sim/configs", headers=STAFF, json=config)
        assert answer.status_code == 422, answer.text
        body = answer.json()
        return [p["field"] for p in body["problems"] if p["field"] != "attributes"] or [str(body["detail"])]

    bad_device = _config(attributes=[{"name": "x", "device": "no/such/dev", "attribute": "position"}])
    assert problems(bad_device) == ["attributes.0.device"]
    bad_attr = _config(attributes=[{"name": "x", "device": "sim/motor/x", "attribute": "nope"}])
    assert problems(bad_attr) == ["attributes.0.attribute"]
    mapped_spectrum = _config(attributes=[{"name": "s", "device": "sim/energy/1", "attribute": "spectrum",
                                           "mapping": {"1": "one"}}])
    assert problems(mapped_spectrum) == ["attributes.0.mapping"]
    twice = _config(attributes=[{"name": "x", "device": "sim/motor/x", "attribute": "position"}] * 2)
    assert "used twice" in problems(twice)[0]


def test_revisions_conflicts_restore_and_activation(client: TestClient) -> None:
    made = client.post("/api/beamlines/sim/configs", headers=STAFF, json=_config())
    assert made.status_code == 201 and made.json()["revision"] == 1
    assert client.post("/api/beamlines/sim/configs", headers=USER, json=_config(name="x")).status_code == 403
    assert client.get("/api/beamlines/sim/active", headers=USER).json()["name"] == "day"  # the first is active
    edit = _config(description="with energy")
    edit["attributes"] = [*edit["attributes"], {"name": "photon_energy", "device": "sim/energy/1",
                                                 "attribute": "energy", "unit": "eV", "at": "both"}]
    saved = client.put("/api/beamlines/sim/configs/day", headers=STAFF, json={"config": edit, "base_revision": 1})
    assert saved.status_code == 200 and saved.json()["revision"] == 2
    stale = client.put("/api/beamlines/sim/configs/day", headers=STAFF,
                       json={"config": _config(description="mine"), "base_revision": 1})
    assert stale.status_code == 409 and "revision 2" in stale.json()["detail"]
    change = client.get("/api/beamlines/sim/configs/day/diff?from=1&to=2", headers=USER).json()
    assert change["added"] == ["photon_energy"] and change["fields"] == {"description": ["day shift", "with energy"]}
    history = client.get("/api/beamlines/sim/configs/day/revisions", headers=USER).json()["data"]
    assert [(r["revision"], r["by"]) for r in history] == [(2, "sam"), (1, "sam")]
    assert "added photon_energy" in history[0]["change"]
    restored = client.post("/api/beamlines/sim/configs/day/restore", headers=STAFF,
                           json={"revision": 1, "base_revision": 2}).json()
    assert restored["revision"] == 3 and [a["name"] for a in restored["attributes"]] == ["sample_x", "shutter"]
    copy = client.post("/api/beamlines/sim/configs/day/duplicate", headers=STAFF, json={"name": "night"})
    assert copy.status_code == 201
    assert client.delete("/api/beamlines/sim/configs/day", headers=STAFF).status_code == 409  # active
    assert client.put("/api/beamlines/sim/active", headers=STAFF, json={"name": "night"}).json()["name"] == "night"
    listed = {c["name"]: c for c in client.get("/api/beamlines/sim/configs", headers=USER).json()["data"]}
    assert listed["night"]["active"] and not listed["day"]["active"]
    assert client.delete("/api/beamlines/sim/configs/day", headers=STAFF).status_code == 204


def test_yaml_export_and_import_give_the_same_configuration(client: TestClient) -> None:
    client.post("/api/beamlines/sim/configs", headers=STAFF, json=_config())
    text = client.get("/api/beamlines/sim/configs/day/export", headers=USER).text
    assert yaml.safe_load(text)["beamline"] == "sim"
    back = parse_beamline_config(text)
    assert back == BeamlineConfig.model_validate({**_config(), "revision": 1})
    again = client.post("/api/import", headers={**STAFF, "Content-Type": "application/yaml"},
                        content=text.replace("day shift", "imported").encode())
    assert again.status_code == 201 and again.json()["revision"] == 2 and again.json()["description"] == "imported"


def test_the_scidog_command(mongo, db, tango_db: TangoDatabase, tmp_path) -> None:
    import os
    import subprocess
    import sys

    from tests.helpers import ROOT

    env = {**os.environ, "SCIDOG_MONGO_URI": mongo.uri, "SCIDOG_DATABASE": db.name,
           "SCIDOG_TANGO_HOST": tango_db.tango_host}

    def scidog(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "scizoo.cli", "scidog", *args], env=env, capture_output=True,
                              text=True, timeout=120, check=False)

    sim = str(ROOT / "config" / "beamlines" / "sim.yaml")
    assert scidog("import", sim, "--activate").stdout.strip() == "sim/default: revision 1 (active)"
    assert scidog("list", "sim").stdout.startswith("* default  revision 1  8 entries")
    exported = tmp_path / "out.yaml"
    exported.write_text(scidog("export", "sim", "default").stdout)
    original = Path(sim).read_text()
    assert parse_beamline_config(exported.read_text()).attributes == parse_beamline_config(original).attributes
    missing = scidog("export", "sim", "nope")
    assert missing.returncode == 1 and "no configuration 'nope'" in missing.stderr
    # The fixture's database defines four of the file's devices (none running here): the others are named.
    checked = scidog("validate", sim)
    assert checked.returncode == 1 and "8 entries, 2 problem(s)" in checked.stderr
    assert sorted(line.split(": ", 1)[0] for line in checked.stdout.splitlines()) == [
        "attributes.1.device", "attributes.2.device"]
    assert "no device 'sim/motor/y'" in checked.stdout and "no device 'sim/motor/theta'" in checked.stdout


# --- bounded work on every request ---------------------------------------------------------


def _alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A few hundred bytes of YAML whose aliases of aliases stand for width**levels values."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join([*lines, f"beamline: sim\nname: bomb\ndescription: *l{levels - 1}\n"])


YAML = {"Content-Type": "application/yaml"}


def test_an_alias_bomb_is_refused_before_it_grows(client: TestClient, db) -> None:
    bomb = _alias_bomb()
    assert len(bomb) < 1000  # 9**9 (387 million) values once expanded
    answer = client.post("/api/import", headers={**STAFF, **YAML}, content=bomb.encode())
    assert answer.status_code == 422, answer.text[:300]
    assert "anchors and aliases (&name, *name) are not accepted" in answer.json()["detail"]
    assert len(answer.content) < 2000
    assert db[CONFIGURATION_COLLECTION].count_documents({}) == 0


def test_a_caller_who_may_not_write_is_refused_before_the_body_is_read(client: TestClient, db) -> None:
    """403 whatever the body holds (an alias bomb, broken JSON, a valid configuration): it is never parsed."""
    client.post("/api/beamlines/sim/configs", headers=STAFF, json=_config())
    bodies = {"bomb": _alias_bomb().encode(), "not YAML": b"{[: : :", "not JSON": b"[" * 100_000,
              "valid": yaml.safe_dump(_config(description="theirs")).encode()}
    for what, body in bodies.items():
        answer = client.post("/api/import", headers={**USER, **YAML}, content=body)
        assert answer.status_code == 403, (what, answer.text[:300])
        assert "staff" in answer.json()["detail"]
        for method, path in (("POST", "/api/beamlines/sim/configs"), ("PUT", "/api/beamlines/sim/configs/day"),
                             ("PUT", "/api/beamlines/sim/active"), ("POST", "/api/beamlines/sim/configs/day/restore"),
                             ("POST", "/api/beamlines/sim/configs/day/duplicate")):
            for who in (USER, OTHER):
                answer = client.request(method, path, headers={**who, "Content-Type": "application/json"},
                                        content=body)
                assert answer.status_code == 403, (what, method, path, answer.text[:300])
    # Staff of another beamline may import at all, so their YAML is read, then checked for its beamline.
    theirs = client.post("/api/import", headers={**OTHER, **YAML}, content=bodies["valid"])
    assert theirs.status_code == 403 and "only sim's staff" in theirs.json()["detail"]
    assert client.get("/api/beamlines/sim/configs/day", headers=USER).json()["description"] == "day shift"
    assert db[CONFIGURATION_COLLECTION].count_documents({}) == 1


def test_refusals_name_the_field_and_never_echo_the_input(client: TestClient) -> None:
    big = "x" * 500_000
    for body in (_config(description=big), {**_config(), big: 1}, _config(attributes=[{"name": big}])):
        answer = client.post("/api/beamlines/sim/configs", headers=STAFF, json=body)
        assert answer.status_code == 422, answer.text[:300]
        assert len(answer.content) < 4000, len(answer.content)
        assert answer.json()["problems"] and answer.json()["detail"].startswith("this is not a valid configuration: ")
    described = client.post("/api/beamlines/sim/configs", headers=STAFF, json=_config(description=big))
    assert described.json()["problems"][0]["field"] == "description"
    imported = client.post("/api/import", headers={**STAFF, **YAML},
                           content=yaml.safe_dump(_config(description=big[:200_000])).encode())
    assert imported.status_code == 422 and len(imported.content) < 4000
    assert "description: String should have at most 2000 characters" in imported.json()["detail"]
    not_json = client.post("/api/beamlines/sim/configs", headers=STAFF, content=b"[" * 200_000)
    assert not_json.status_code == 422 and len(not_json.content) < 4000


@pytest.mark.parametrize("name", ["scan_status", "message_produced_at", "scan.status", "scan_id"])
def test_a_friendly_name_capture_writes_itself_is_refused(client: TestClient, name: str) -> None:
    entry = {"name": name, "device": "sim/motor/x", "attribute": "position"}
    made = client.post("/api/beamlines/sim/configs", headers=STAFF, json=_config(attributes=[entry]))
    assert made.status_code == 422, made.text
    body = made.json()
    assert [p["field"] for p in body["problems"]] == ["attributes.0.name"]
    assert f"'{name}' is stored as" in body["problems"][0]["message"]
    assert "choose another friendly name" in body["problems"][0]["message"]
    assert body["detail"].startswith("this is not a valid configuration: attributes.0.name: ")
    client.post("/api/beamlines/sim/configs", headers=STAFF, json=_config())
    saved = client.put("/api/beamlines/sim/configs/day", headers=STAFF,
                       json={"config": _config(attributes=[entry]), "base_revision": 1})
    assert saved.status_code == 422 and [p["field"] for p in saved.json()["problems"]] == ["config.attributes.0.name"]
    imported = client.post("/api/import", headers={**STAFF, **YAML},
                           content=yaml.safe_dump(_config(attributes=[entry])).encode())
    assert imported.status_code == 422 and "attributes.0.name" in imported.json()["detail"]
    assert client.get("/api/beamlines/sim/configs/day", headers=USER).json()["revision"] == 1


@contextmanager
def _serving(app: Any) -> Iterator[str]:
    """The app under uvicorn in a thread: real HTTP, so a body's bytes arrive (or not) as sent."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="scidog-test", daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, timeout=20, what="scidog listening")
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15)


def test_bodies_are_bounded_before_they_are_read(mongo, db, tango_db: TangoDatabase,
                                                 devices: SimulatedBeamline) -> None:
    app = create_app(_settings(mongo, db, tango_db, devices))
    try:
        with _serving(app) as url:
            # 100 MB announced, none sent: an answer that needed the body would never come.
            big = "Content-Type: application/yaml\r\nContent-Length: 100000000\r\n\r\n"
            assert _raw(url, f"POST /api/import HTTP/1.1\r\nHost: t\r\n{big}").endswith("401 Unauthorized")
            bad = "Authorization: Bearer made-up\r\n"
            assert _raw(url, f"POST /api/import HTTP/1.1\r\nHost: t\r\n{bad}{big}").endswith("401 Unauthorized")
            for head in ("POST /api/import", "PUT /api/beamlines/sim/configs/day", "POST /api/beamlines/sim/configs",
                         "GET /api/beamlines"):
                signed = f"{head} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer user\r\n{big}"
                assert _raw(url, signed).endswith("413 Request Entity Too Large"), head
            # Reads are signed in too: refused before anything else.
            assert _raw(url, "GET /api/beamlines HTTP/1.1\r\nHost: t\r\n\r\n").endswith("401 Unauthorized")
            # No length said: the body is counted as it comes and cut off at the limit (256 KiB of YAML).
            chunk = b"x" * 65536
            chunked = ("POST /api/import HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer staff\r\n"
                       "Content-Type: application/yaml\r\nTransfer-Encoding: chunked\r\n\r\n")
            body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(8)) + b"0\r\n\r\n"
            assert _raw(url, chunked, body).endswith("413 Request Entity Too Large")
    finally:
        app.state.store.close()


# --- a configuration's history is its own --------------------------------------------------


def test_a_configuration_deleted_and_made_again_starts_a_history_of_its_own(client: TestClient, db) -> None:
    assert client.post("/api/beamlines/sim/configs", headers=STAFF, json=_config()).status_code == 201
    night = _config(name="night", description="first night")
    assert client.post("/api/beamlines/sim/configs", headers=STAFF, json=night).status_code == 201
    assert client.put("/api/beamlines/sim/configs/night", headers=STAFF,
                      json={"config": _config(name="night", description="second"), "base_revision": 1}).status_code == 200
    assert client.delete("/api/beamlines/sim/configs/night", headers=STAFF).status_code == 204
    again = client.post("/api/beamlines/sim/configs", headers=STAFF, json=_config(name="night", description="new"))
    assert again.status_code == 201 and again.json()["revision"] == 1
    history = client.get("/api/beamlines/sim/configs/night/revisions", headers=USER).json()
    assert [(r["revision"], r["change"]) for r in history["data"]] == [(1, "created")]
    assert client.get("/api/beamlines/sim/configs/night/revisions/2", headers=USER).status_code == 404
    assert client.get("/api/beamlines/sim/configs/night/revisions/1", headers=USER).json()["description"] == "new"
    saved = client.put("/api/beamlines/sim/configs/night", headers=STAFF,
                       json={"config": _config(name="night", description="newer"), "base_revision": 1})
    assert saved.status_code == 200 and saved.json()["revision"] == 2
    change = client.get("/api/beamlines/sim/configs/night/diff?from=1&to=2", headers=USER).json()
    assert change["fields"] == {"description": ["new", "newer"]}
    # The deleted one's revisions stay, for the record.
    assert db[CONFIGURATION_REVISION_COLLECTION].count_documents({"name": "night"}) == 4


def test_a_configuration_stored_before_history_keys_keeps_its_history(client: TestClient, db) -> None:
    """Stored by an earlier scidog: no history key on the configuration or its revisions."""
    config = BeamlineConfig.model_validate(_config()).model_dump(mode="json")
    at = datetime.now(UTC)
    db[CONFIGURATION_COLLECTION].insert_one({"_id": "sim/day", "beamline": "sim", "name": "day", "revision": 1,
                                             "config": config, "updatedAt": at, "updatedBy": "sam"})
    db[CONFIGURATION_REVISION_COLLECTION].insert_one({"_id": "sim/day/1", "beamline": "sim", "name": "day",
                                                      "revision": 1, "config": config, "by": "sam", "at": at,
                                                      "change": "created"})
    saved = client.put("/api/beamlines/sim/configs/day", headers=STAFF,
                       json={"config": _config(description="later"), "base_revision": 1})
    assert saved.status_code == 200 and saved.json()["revision"] == 2
    history = client.get("/api/beamlines/sim/configs/day/revisions", headers=USER).json()["data"]
    assert [r["revision"] for r in history] == [2, 1]
    assert client.get("/api/beamlines/sim/configs/day/revisions/1", headers=USER).json()["description"] == "day shift"


def test_the_index_build_goes_before_the_first_write(mongo, db) -> None:
    """The build creates the collections, so a request that comes first waits for it instead of
    creating the same collection at the same moment (SecantusDB was seen to hang on that race)."""
    from pydantic import SecretStr

    from scidog._store import ConfigStore

    store = ConfigStore(SecretStr(mongo.uri), db.name)
    try:
        assert store.beamlines() == []  # the first call, without ensure_indexes
        names = {i["name"] for i in db[CONFIGURATION_REVISION_COLLECTION].list_indexes()}
        assert len(names) > 1, names  # more than _id_: the build ran first
        store.ensure_indexes()  # once a process: a second call is a no-op
    finally:
        store.close()


def test_a_first_request_waits_for_scidogs_indexes_alone(mongo, db) -> None:
    """A request that comes first waits for scidog's own indexes only, not for the catalogue's
    (datasets' indexes, their wildcard index and the migration take minutes on a large catalogue):
    the editor answers while those are built beside the start."""
    from pydantic import SecretStr

    from scidog._store import ConfigStore

    store = ConfigStore(SecretStr(mongo.uri), db.name)
    try:
        assert store.beamlines() == []
        assert len({i["name"] for i in db[CONFIGURATION_COLLECTION].list_indexes()}) > 1
        assert DATASET_COLLECTION not in db.list_collection_names()  # the catalogue's build was not waited for
        store.ensure_indexes()  # the start's build: scidog's (already there), then the catalogue's
        assert len({i["name"] for i in db[DATASET_COLLECTION].list_indexes()}) > 1
    finally:
        store.close()

"""scidog over a real Tango database (pytango's databaseds on sqlite) and real devices."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from scidog import ScidogSettings, create_app
from scifish.testing import SimulatedBeamline, TangoDatabase, demo_devices
from scizoo.core import BeamlineConfig, parse_beamline_config
from scizoo.web import TokenUser

pytestmark = pytest.mark.system
STAFF = {"Authorization": "Bearer staff"}
USER = {"Authorization": "Bearer user"}


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


@pytest.fixture()
def client(mongo, db, tango_db: TangoDatabase, devices: SimulatedBeamline) -> Iterator[TestClient]:
    settings = ScidogSettings(
        mongo_uri=mongo.uri, database=db.name, tango_host=tango_db.tango_host, device_addresses=devices.addresses,
        staff_groups={"sim": "sim-staff"}, device_timeout_s=0.5,
        tokens={"staff": TokenUser(user="sam", groups=["sim-staff"]), "user": TokenUser(user="ada", groups=["A"])})
    with TestClient(create_app(settings)) as c:
        yield c


def _config(**changes: object) -> dict:
    base = {"beamline": "sim", "name": "day", "description": "day shift", "attributes": [
        {"name": "sample_x", "group": "sample", "device": "sim/motor/x", "attribute": "position", "unit": "mm"},
        {"name": "shutter", "group": "beam", "device": "sim/shutter/1", "attribute": "state_code",
         "mapping": {"4": "inserted", "1": "open"}},
    ]}
    return {**base, **changes}


def test_type_ahead_attributes_and_a_live_value(client: TestClient) -> None:
    found = client.get("/api/tango/devices?q=MOT/01", headers=USER).json()
    assert found[:3] == ["bl/mot/010", "bl/mot/011", "bl/mot/012"] and len(found) == 10
    assert client.get("/api/tango/devices?q=*", headers=USER).status_code == 200  # a wildcard is just text
    attrs = {a["name"]: a for a in client.get("/api/tango/attributes?device=sim/energy/1", headers=USER).json()}
    assert attrs["energy"]["unit"] == "eV" and attrs["energy"]["scalar"]
    assert not attrs["spectrum"]["scalar"]
    value = client.get("/api/tango/value?device=sim/motor/x&attribute=position", headers=USER).json()
    assert isinstance(value["value"], float) and value["quality"] == "ATTR_VALID"
    started = time.monotonic()
    dead = client.get("/api/tango/value?device=bl/dead/1&attribute=position", headers=USER)
    assert dead.status_code == 502 and "bl/dead/1" in dead.json()["detail"]
    assert time.monotonic() - started < 10
    assert client.get("/api/tango/devices?q=mot").status_code == 401


def test_validation_says_what_to_correct(client: TestClient) -> None:
    def problems(config: dict) -> list[str]:
        answer = client.post("/api/beamlines/sim/configs", headers=STAFF, json=config)
        assert answer.status_code == 422, answer.text
        body = answer.json()
        return [p["field"] for p in body.get("problems", [])] or [str(body["detail"])]

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

"""scidog's editor in a real browser: find a device by typing, map a value, save, activate,
capture with it, and see the friendly name and the mapped label in the dataset and the table;
names and units from the control system shown as text; the token taken from the fragment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tango
from pydantic import SecretStr

from scanlog_api import ScanlogServer, ScanlogSettings
from scidog import ConfigStore, ScidogSettings
from scidog import create_app as create_scidog
from scifish import ActiveConfig, Capturer, ScanRequest, TangoReader
from scifish.testing import SimulatedBeamline, TangoDatabase, demo_devices
from scizoo.core import DATASET_COLLECTION, BeamlineConfig, CatalogueSettings, Proposal, build_dataset
from scizoo.web import TokenUser
from tests.helpers import launch_chromium, make_scan, wait_for

pytestmark = pytest.mark.system
TOKENS = {"staff": TokenUser(user="sam", groups=["sim-staff", "20240001"])}
#: A device name Tango's database accepts (no '/', ':', '#' or space in a field) that is markup.
MARKUP_DEVICE = 'sim/"><b>pwn<b>/1'


@pytest.fixture()
def lab(mongo, db, tmp_path: Path) -> Iterator[tuple[str, SimulatedBeamline]]:
    with TangoDatabase(tmp_path / "tango") as tango_db, \
            SimulatedBeamline(demo_devices("20240001", str(tmp_path))) as devices:
        tango_db.register([s.name for s in demo_devices("", "")], "Sim", "Sim/demo")
        tango_db.register([MARKUP_DEVICE], "Sim", "Sim/markup")
        store = ConfigStore(SecretStr(mongo.uri), db.name)
        store.create(BeamlineConfig.model_validate({"beamline": "sim", "name": "day", "attributes": [
            {"name": "sample_x", "device": "sim/motor/x", "attribute": "position", "unit": "mm"}]}),
            "sam", datetime.now(UTC))
        store.close()
        scidog = create_scidog(ScidogSettings(
            mongo_uri=mongo.uri, database=db.name, tango_host=tango_db.tango_host,
            device_addresses=devices.addresses, staff_groups={"sim": "sim-staff"}, tokens=TOKENS))
        settings = ScanlogSettings(mongo_uri=mongo.uri, database=db.name, tokens=TOKENS)
        with ScanlogServer(settings, grace_s=1, mounts={"/scidog": scidog}) as server:
            yield server.url, devices
        scidog.state.store.close()  # a mounted app's lifespan does not run


def test_edit_activate_and_capture_with_it(lab, mongo, db, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    url, devices = lab
    tango.DeviceProxy(devices.addresses["sim/shutter/1"]).write_attribute("state_code", 4)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{url}/scidog/#token=staff")
        page.get_by_text("day (rev 1").wait_for()
        assert "token" not in page.url  # out of the address (and the history) once read
        page.click("#new-entry")
        page.fill("input[name=name]", "shutter")
        page.fill("input[name=group]", "beam")
        page.locator("input[name=device]").press_sequentially("shutt", delay=30)
        wait_for(lambda: page.locator("#device-list option").count() > 0, timeout=10, what="type-ahead results")
        assert page.locator("#device-list option").first.get_attribute("value") == "sim/shutter/1"
        page.fill("input[name=device]", "sim/shutter/1")
        page.dispatch_event("input[name=device]", "change")
        page.locator("select[name=attribute] option[value=state_code]").wait_for(state="attached")
        page.select_option("select[name=attribute]", "state_code")
        page.click("#preview")
        wait_for(lambda: page.inner_text("#preview-out") not in ("", "…"), timeout=10, what="the live value")
        assert page.inner_text("#preview-out") == "4 (ATTR_VALID)"
        page.fill("textarea[name=mapping]", "4 = inserted\n1 = open")
        page.click("text=Apply to the configuration")
        # the beamline's techniques, by name: an unknown one is refused with the reason, nothing saved
        page.fill("#techniques", "XAS, quantum magic")
        page.press("#techniques", "Tab")
        page.click("#save")
        refused = page.locator('.error[data-for="techniques"]')
        wait_for(lambda: "quantum magic" in refused.inner_text(), timeout=10, what="the technique refused")
        page.fill("#techniques", "xas")
        page.press("#techniques", "Tab")
        page.click("#save")
        page.get_by_text("Saved as revision 2").wait_for()
        wait_for(lambda: page.input_value("#techniques") == "x-ray absorption spectroscopy", timeout=10,
                 what="the technique read back as PaNET names it")
        page.click("#activate")
        page.get_by_text("day is active").wait_for()
        browser.close()
    # the one refusal asked for above (the browser logs every 4xx), nothing else
    assert errors == ["Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"]

    follower = ActiveConfig(mongo.uri, db.name, "sim", tmp_path / "active.json").start()
    reader = TangoReader(devices.addresses, timeout_s=2.0)
    try:
        config = follower.current()
        assert (config.name, config.revision) == ("day", 2)
        [message] = Capturer(config, reader, None).messages([ScanRequest(make_scan(1), "ed-1")], source="manual",
                                                             now=datetime.now(UTC))
    finally:
        reader.close()
        follower.close()
    assert (message.config_name, message.config_revision) == ("day", 2)
    dataset = build_dataset(message, Proposal(proposalId="20240001"), CatalogueSettings()).to_mongo()
    assert dataset["techniques"] == [{"pid": "http://purl.org/pan-science/PaNET/PaNET01196",
                                      "name": "x-ray absorption spectroscopy"}]
    assert dataset["scientificMetadata"]["shutter"]["value"] == "inserted"
    assert dataset["scientificMetadata"]["shutter"]["rawValue"] == 4
    db[DATASET_COLLECTION].insert_one(dataset)
    import httpx

    rows = httpx.get(f"{url}/api/scans", headers={"Authorization": "Bearer staff"}, timeout=10).json()["data"]
    assert rows[0]["meta"]["shutter"]["value"] == "inserted"


def test_names_from_the_control_system_are_shown_as_text(lab, page) -> None:
    """A device name and a unit that are markup (Tango allows both) appear as written, never as elements."""
    url, devices = lab
    energy = tango.DeviceProxy(devices.addresses["sim/energy/1"])
    config = energy.get_attribute_config("energy")
    config.unit = "<b>eV</b>"
    energy.set_attribute_config(config)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{url}/scidog/#token=staff")
    page.get_by_text("day (rev 1").wait_for()
    page.click("#new-entry")
    page.locator("input[name=device]").press_sequentially("pwn", delay=30)
    wait_for(lambda: page.locator("#device-list option").count() > 0, timeout=10, what="type-ahead results")
    assert page.locator("#device-list option").evaluate_all("os => os.map((o) => o.value)") == [MARKUP_DEVICE]
    assert page.locator("#device-list b").count() == 0
    page.fill("input[name=device]", "sim/energy/1")
    page.dispatch_event("input[name=device]", "change")
    option = page.locator("select[name=attribute] option[value=energy]")
    option.wait_for(state="attached")
    assert option.text_content().startswith("energy (") and option.text_content().endswith(", SCALAR, <b>eV</b>)")
    assert page.locator("select[name=attribute] b").count() == 0
    assert page.input_value("input[name=unit]") == "<b>eV</b>"
    assert not errors, errors


def test_a_token_in_the_query_is_not_used(lab, page) -> None:
    """?token= has reached the server (and its access log) already: the page says how to sign in instead."""
    url, _ = lab
    page.goto(f"{url}/scidog/?token=staff")
    page.get_by_text("open this page with #token=").wait_for()
    assert "token" not in page.url
    assert page.locator("#configs li").count() == 0

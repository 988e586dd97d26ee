"""scifish against real Tango devices (pytango test contexts in child processes)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import tango

from scifish import Capturer, ScanRequest, TangoReader
from scifish.testing import SimDeviceSpec, SimulatedBeamline
from scizoo.core import BeamlineConfig, RecordedEntry
from tests.helpers import make_scan, wait_for

pytestmark = pytest.mark.system


def test_capture_reads_every_configured_attribute(sim_beamline, beamline_config) -> None:
    tango.DeviceProxy(sim_beamline.addresses["sim/shutter/1"]).write_attribute("state_code", 4)
    reader = TangoReader(sim_beamline.addresses, timeout_s=2.0)
    try:
        [message] = Capturer(beamline_config, reader, None).messages(
            [ScanRequest(make_scan(1), "c-1")], source="manual", now=datetime.now(UTC)
        )
    finally:
        reader.close()
    entries = {e.name: e for e in message.entries}
    assert set(entries) == {a.name for a in beamline_config.attributes}
    assert all(e.error is None for e in entries.values()), [e.error for e in entries.values()]
    assert entries["sample_x"].value == pytest.approx(1.25) and entries["sample_x"].unit == "mm"
    assert entries["shutter"].raw_value == 4 and entries["shutter"].value == "inserted"
    assert entries["sample_x"].quality == "ATTR_VALID"
    assert entries["sample_x"].read_time is not None
    assert message.proposal_id == "20240001"
    assert message.data_path.endswith("/")


def _two_server_config() -> BeamlineConfig:
    return BeamlineConfig.model_validate(
        {
            "beamline": "kill",
            "attributes": [
                {"name": "alive_x", "device": "k/alive/1", "attribute": "position", "unit": "mm"},
                {"name": "alive_v", "device": "k/alive/1", "attribute": "velocity"},
                {"name": "doomed_x", "device": "k/doomed/1", "attribute": "position", "unit": "mm"},
                {"name": "doomed_v", "device": "k/doomed/1", "attribute": "velocity"},
            ],
        }
    )


@pytest.mark.parametrize("failure", ["kill", "freeze"])
def test_a_dead_device_gives_errors_and_the_capture_goes_on(failure: str) -> None:
    config = _two_server_config()
    with (
        SimulatedBeamline([SimDeviceSpec("SimMotor", "k/alive/1", {"Position0": 3.0})]) as alive,
        SimulatedBeamline([SimDeviceSpec("SimMotor", "k/doomed/1", {"Position0": 7.0})]) as doomed,
    ):
        reader = TangoReader({**alive.addresses, **doomed.addresses}, timeout_s=0.5)
        try:
            capturer = Capturer(config, reader, None)
            [first] = capturer.messages([ScanRequest(make_scan(1), "k1")], source="manual", now=datetime.now(UTC))
            assert {e.name: e.value for e in first.entries} == {
                "alive_x": 3.0, "alive_v": 1.5, "doomed_x": 7.0, "doomed_v": 1.5}
            if failure == "kill":
                doomed.kill()
            else:
                doomed.freeze()
            [second] = capturer.messages([ScanRequest(make_scan(2), "k2")], source="manual", now=datetime.now(UTC))
        finally:
            reader.close()
            doomed.thaw()
    entries = {e.name: e for e in second.entries}
    assert entries["alive_x"].value == 3.0 and entries["alive_x"].error is None
    for name in ("doomed_x", "doomed_v"):
        assert entries[name].value is None
        assert entries[name].error, f"{name} should say why it has no value"
    # No PathFixer configured: the scan is still produced, and quarantined downstream.
    assert second.proposal_id == "unknown"


def test_a_frozen_device_is_left_out_until_it_answers_again() -> None:
    config = _two_server_config()
    doomed_names = ("doomed_x", "doomed_v")

    def capture(capturer: Capturer, n: int) -> dict[str, RecordedEntry]:
        [message] = capturer.messages([ScanRequest(make_scan(n), f"f{n}")], source="manual", now=datetime.now(UTC))
        return {e.name: e for e in message.entries}

    with (
        SimulatedBeamline([SimDeviceSpec("SimMotor", "k/alive/1", {"Position0": 3.0})]) as alive,
        SimulatedBeamline([SimDeviceSpec("SimMotor", "k/doomed/1", {"Position0": 7.0})]) as doomed,
    ):
        reader = TangoReader({**alive.addresses, **doomed.addresses}, timeout_s=0.5, probe_interval_s=0.5)
        try:
            capturer = Capturer(config, reader, None)
            assert capture(capturer, 1)["doomed_x"].value == 7.0
            doomed.freeze()
            first_error = capture(capturer, 2)["doomed_x"].error
            assert first_error and first_error.startswith("Timeout")
            later = [capture(capturer, n) for n in range(3, 8)]
            # Left out, not called: every later read skipped the device and said since when.
            assert reader.skipped == 5
            for entries in later:
                assert entries["alive_x"].value == 3.0 and entries["alive_x"].error is None
                for name in doomed_names:
                    error = entries[name].error or ""
                    assert entries[name].value is None
                    assert error.startswith("unreachable since ") and error.endswith(first_error), error
            assert list(reader.unreachable()) == ["k/doomed/1"]
            doomed.thaw()
            wait_for(lambda: not reader.unreachable(), timeout=15, what="the probe to find the device again")
            skipped = reader.skipped
            entries = capture(capturer, 8)
            assert reader.skipped == skipped
            assert [(entries[n].value, entries[n].error) for n in doomed_names] == [(7.0, None), (1.5, None)]
        finally:
            reader.close()
            doomed.thaw()

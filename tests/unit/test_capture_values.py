"""Values a catalogue cannot hold are recorded as errors of their entry, never silently or at
the cost of the whole scan (docs/reliability.md, findings 5 and 6)."""

from __future__ import annotations

import math

from scifish._capture import MAX_VALUE_BYTES, _entry
from scifish._tango import Reading
from scizoo.core import AttributeConfig, ScanMetadata

ATTR = AttributeConfig(name="x", device="d/x/1", attribute="position", unit="mm", mapping={"4": "inserted"})


def _read(value: object) -> Reading:
    return Reading(device="d/x/1", attribute="position", value=value)


def test_nan_and_infinities_become_an_error_not_a_silent_null() -> None:
    for value in (math.nan, math.inf, -math.inf):
        entry = _entry(ATTR, _read(value))
        assert entry.value is None and entry.raw_value is None
        assert "not a number a catalogue can hold" in (entry.error or "")
    spectrum = _entry(ATTR, _read([1.0, math.nan, 3.0, math.inf]))
    assert spectrum.value is None and spectrum.error == "2 of its values are NaN or infinite, which a catalogue cannot hold"


def test_a_huge_value_is_left_out_with_its_size_and_the_entry_stays_small() -> None:
    entry = _entry(ATTR, _read("x" * 2_000_000))
    assert entry.value is None and entry.raw_value is None
    assert entry.error == f"a value of 2,000,002 bytes is not recorded (at most {MAX_VALUE_BYTES:,} per entry)"
    assert len(entry.model_dump_json()) < 1000


def test_ordinary_values_are_recorded_as_they_are_mapped() -> None:
    assert (_entry(ATTR, _read(4)).value, _entry(ATTR, _read(4)).raw_value) == ("inserted", 4)
    assert _entry(ATTR, _read(1.5)).value == 1.5 and _entry(ATTR, _read(1.5)).error is None
    failed = _entry(ATTR, Reading(device="d/x/1", attribute="position", error="Timeout: no answer within 1 s"))
    assert failed.value is None and failed.error == "Timeout: no answer within 1 s"


def test_the_message_json_never_holds_a_null_that_was_a_number() -> None:
    from datetime import UTC, datetime

    from tests.helpers import make_scan

    entry = _entry(ATTR, _read(math.nan))
    message = ScanMetadata(message_id="m", beamline="sim", source="manual", proposal_id="p", data_path="/d",
                           scan=make_scan(1), entries=[entry], produced_at=datetime(2026, 12, 2, tzinfo=UTC))
    dumped = ScanMetadata.model_validate_json(message.model_dump_json()).entries[0]
    assert dumped.value is None and dumped.error  # null, but with the reason beside it


def test_an_entry_stored_under_a_key_every_scan_records_is_refused_at_capture() -> None:
    """A configuration stored before scidog refused such names still captures: that entry gets
    an error instead of its value, and the scan goes on."""
    reserved = AttributeConfig(name="scan_status", device="d/x/1", attribute="state", at="both")
    start, end = _entry(reserved, _read(4)), _entry(reserved, _read(4), end=True)
    assert start.value is None and "every scan records itself" in (start.error or "")
    assert end.name == "scan_status_end" and end.error is None and end.value == 4

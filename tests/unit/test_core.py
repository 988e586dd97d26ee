"""The core without any service: contract, SciCat documents, mapping, units, spool."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from pydantic import ValidationError

from scizoo.core import (
    SCHEMA_DIR,
    BeamlineConfig,
    CatalogueSettings,
    DatasetDocument,
    Proposal,
    RecordedEntry,
    ScanMetadata,
    apply_mapping,
    build_dataset,
    build_orig_datablock,
    dataset_pid,
    schema_documents,
    to_si,
)
from tests.helpers import PROPOSAL, make_scan

SETTINGS = CatalogueSettings(pid_prefix="20.500.1", facility="lab", staff_groups={"sim": "sim-staff"})


def _message(**changes) -> ScanMetadata:
    base = dict(
        message_id="m-1",
        beamline="sim",
        source="manual",
        proposal_id="20240001",
        data_path="/data/sim/20240001/raw/",
        scan=make_scan(1),
        entries=[
            RecordedEntry(name="sample_x", group="sample", device="sim/motor/x", attribute="position",
                          value=12.5, raw_value=12.5, unit="mm"),
            RecordedEntry(name="shutter", device="sim/shutter/1", attribute="state_code",
                          value="inserted", raw_value=4),
            RecordedEntry(name="temp.sample", device="sim/temp/1", attribute="temperature",
                          unit="degC", value=25.0, raw_value=25.0),
            RecordedEntry(name="dead", device="sim/dead/1", attribute="x", error="Timeout: no answer"),
        ],
        config_name="default",
        config_revision=3,
        produced_at=datetime.fromisoformat("2026-11-20T12:05:00+00:00"),
    )
    base.update(changes)
    return ScanMetadata(**base)


def test_checked_in_json_schemas_match_the_models() -> None:
    for name, text in schema_documents().items():
        on_disk = (SCHEMA_DIR / name).read_text(encoding="utf-8")
        assert on_disk == text, f"{name} drifted from the model: run `make schemas`"


def test_message_rejects_naive_times_and_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        _message(produced_at=datetime(2026, 1, 1))
    with pytest.raises(ValidationError, match="Extra inputs"):
        ScanMetadata.model_validate({**json.loads(_message().model_dump_json()), "surprise": 1})


def test_message_round_trips_through_json() -> None:
    message = _message()
    assert ScanMetadata.model_validate_json(message.model_dump_json()) == message


def test_dataset_has_the_shape_scicat_serves() -> None:
    proposal = Proposal.from_document(PROPOSAL)
    doc = build_dataset(_message(), proposal, SETTINGS).to_mongo()
    assert doc["_id"] == doc["pid"] == dataset_pid("m-1", "20.500.1")
    assert doc["pid"].startswith("20.500.1/")
    assert doc["type"] == "raw"
    assert doc["proposalIds"] == ["20240001"] and "proposalId" not in doc
    assert doc["instrumentIds"] == ["sim"]
    assert doc["principalInvestigators"] == ["Grace Hopper"]  # names, as SciCat's schema says
    assert doc["sourceFolder"] == "/data/sim/20240001/raw"
    assert doc["ownerGroup"] == "20240001"
    assert doc["accessGroups"] == ["collaborators", "sim-staff"]
    assert doc["creationLocation"] == "/lab/sim"
    for key in ("creationTime", "startTime", "endTime", "createdAt", "updatedAt"):
        assert isinstance(doc[key], datetime) and doc[key].tzinfo is not None, key
    for key in ("owner", "contactEmail", "size", "numberOfFiles", "datasetName", "version", "isPublished",
                "createdBy", "updatedBy", "datasetlifecycle"):
        assert key in doc, key
    assert doc["datasetlifecycle"]["archiveStatusMessage"] == "datasetCreated"
    assert doc["size"] == 1001 and doc["numberOfFiles"] == 1


def test_scientific_metadata_carries_si_values_and_safe_keys() -> None:
    meta = build_dataset(_message(), Proposal.from_document(PROPOSAL), SETTINGS).to_mongo()["scientificMetadata"]
    assert meta["sample_x"]["value"] == 12.5 and meta["sample_x"]["unit"] == "mm"
    assert meta["sample_x"]["valueSI"] == pytest.approx(0.0125) and meta["sample_x"]["unitSI"] == "m"
    assert meta["temp_sample"]["valueSI"] == pytest.approx(298.15)  # '.' is not a MongoDB key character
    assert meta["shutter"] == {
        "value": "inserted", "unit": "", "rawValue": 4, "group": "", "device": "sim/shutter/1",
        "attribute": "state_code",
    }
    assert meta["dead"]["error"] == "Timeout: no answer" and "valueSI" not in meta["dead"]
    assert meta["scan_status"]["value"] == "finished"
    assert meta["scan_duration"]["valueSI"] == 30.0


def test_same_message_id_same_pid_and_same_document() -> None:
    proposal = Proposal.from_document(PROPOSAL)
    assert build_dataset(_message(), proposal, SETTINGS) == build_dataset(_message(), proposal, SETTINGS)
    assert dataset_pid("m-1", "p") != dataset_pid("m-2", "p")


def test_the_documents_we_write_refuse_unknown_and_missing_fields() -> None:
    doc = build_dataset(_message(), Proposal.from_document(PROPOSAL), SETTINGS).to_mongo()
    with pytest.raises(ValidationError, match="Extra inputs"):
        DatasetDocument.model_validate({**doc, "proposalId": "20240001"})  # v3's singular field
    del doc["ownerGroup"]
    with pytest.raises(ValidationError, match="ownerGroup"):
        DatasetDocument.model_validate(doc)


def test_orig_datablock_lists_the_files() -> None:
    message = _message()
    dataset = build_dataset(message, Proposal.from_document(PROPOSAL), SETTINGS)
    built = build_orig_datablock(message, dataset)
    assert built is not None
    block = built.to_mongo()
    assert block["datasetId"] == dataset.pid and block["_id"] == built.id
    assert block["dataFileList"][0]["path"].endswith("scan_0001.h5")
    assert block["size"] == 1001
    assert build_orig_datablock(_message(scan=make_scan(2).model_copy(update={"files": []})), dataset) is None


@pytest.mark.parametrize(
    ("value", "mapping", "expected"),
    [(4, {"4": "inserted"}, "inserted"), (4.0, {"4": "inserted"}, "inserted"), (3, {"4": "x"}, 3),
     (True, {"true": "on"}, "on"), ([1, 2], {"1": "x"}, [1, 2])],
)
def test_value_mapping(value, mapping, expected) -> None:
    assert apply_mapping(value, mapping) == expected


def test_config_maps_yaml_int_keys_and_rejects_duplicate_names() -> None:
    config = BeamlineConfig.model_validate(
        {"beamline": "b", "attributes": [{"name": "s", "device": "d/e/f", "attribute": "a", "mapping": {4: "in"}}]}
    )
    assert apply_mapping(4, config.attributes[0].mapping) == "in"
    with pytest.raises(ValidationError, match="used twice"):
        BeamlineConfig.model_validate({"beamline": "b", "attributes": [
            {"name": "s", "device": "d/e/f", "attribute": "a"}, {"name": "s", "device": "d/e/g", "attribute": "a"}]})


def test_units() -> None:
    assert to_si(1500, "eV").unit == "(kg m^2) / s^2"  # as the SciCat backend (mathjs) spells it
    assert to_si(2, "not-a-unit") is None
    assert to_si("text", "mm") is None
    assert to_si(float("nan"), "mm") is None


def test_a_unit_pint_cannot_read_is_no_si_value_never_a_failed_scan() -> None:
    """A configured unit is people's text: '(' is a TokenError in pint's parser, '1/0' a
    ZeroDivisionError, 'kg**1000000' an OverflowError; each means no SI value."""
    for unit in ("(", "1/0", "kg**1000000", ")))", "**", "9**9**9", "3^3^14", "(9**9)**9", "m**100"):
        assert to_si(1.5, unit) is None, unit
    assert to_si(1.5, "degC") == (274.65, "K")


def test_the_same_quantity_is_the_same_si_number_whichever_unit_it_came_in() -> None:
    """Float noise of a conversion must not decide a search: 9.5 keV is 9500 eV exactly."""
    for a, b in (((9.5, "keV"), (9500, "eV")), ((0.3, "mm"), (300, "um")), ((1.1, "bar"), (110000, "Pa"))):
        assert to_si(*a) == to_si(*b), (a, b)

"""A beamline's techniques: named as people name them, written as SciCat holds them (PaNET)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from scizoo.core import (
    CAPTURE_OWNED_DATASET_FIELDS,
    BeamlineConfig,
    CatalogueSettings,
    Proposal,
    ScanMetadata,
    TechniqueRef,
    build_dataset,
    producer_update,
)
from tests.helpers import make_scan

XAS = {"pid": "http://purl.org/pan-science/PaNET/PaNET01196", "name": "x-ray absorption spectroscopy"}
SAXS = {"pid": "http://purl.org/pan-science/PaNET/PaNET01188", "name": "small angle x-ray scattering"}


def _config(techniques: list) -> BeamlineConfig:
    return BeamlineConfig(beamline="sim", techniques=techniques)


def test_a_technique_is_named_by_acronym_name_or_iri_in_any_case() -> None:
    assert [t.model_dump() for t in _config(["XAS", "Small Angle X-ray Scattering"]).techniques] == [XAS, SAXS]
    assert [t.model_dump() for t in _config([XAS["pid"], "saxs"]).techniques] == [XAS, SAXS]
    # one the table does not list: given whole, with its PaNET IRI
    probe = {"pid": "http://purl.org/pan-science/PaNET/PaNET01012", "name": "x-ray probe"}
    assert [t.model_dump() for t in _config([probe]).techniques] == [probe]
    # what is stored reads back the same (scidog's store and YAML export keep the resolved form)
    again = BeamlineConfig.model_validate(_config(["XAS"]).model_dump())
    assert again.techniques == _config(["XAS"]).techniques


@pytest.mark.parametrize(("techniques", "says"), [
    (["quantum magic"], "not a PaNET technique"),
    (["XAS", "x-ray absorption spectroscopy"], "named twice"),
    ([{"pid": "https://example.org/xas", "name": "XAS"}], "pattern"),  # not a PaNET IRI
    ([{"pid": XAS["pid"], "name": ""}], "at least 1 character"),
    ([f"{n}" for n in ("XAS", "SAXS", "XRD", "XPS", "XES", "WAXS", "XRR", "XPD", "XSW", "RIXS", "IXS",
                        "SAD", "MAD", "SFX", "SSX", "STXM", "XMCD", "XMLD", "XPCS", "XANES", "EXAFS")], "at most 20"),
])
def test_a_technique_that_cannot_be_written_is_refused_with_a_reason(techniques: list, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        _config(techniques)


def test_a_technique_given_twice_as_a_model_is_refused_too() -> None:
    xas = TechniqueRef(pid=XAS["pid"], name=XAS["name"])
    with pytest.raises(ValidationError, match="named twice"):
        _config([xas, "XAS"])


def _message(techniques: list) -> ScanMetadata:
    scan = make_scan(1)
    return ScanMetadata(message_id="m-1", beamline="sim", source="manual", proposal_id="P1", data_path="/data",
                        scan=scan, techniques=_config(techniques).techniques, produced_at=datetime.now(UTC))


def test_every_dataset_carries_its_configurations_techniques_and_a_recapture_keeps_the_catalogues() -> None:
    message = ScanMetadata.model_validate_json(_message(["XAS"]).model_dump_json())  # through Kafka
    doc = build_dataset(message, Proposal(proposalId="P1"), CatalogueSettings()).to_mongo()
    assert doc["techniques"] == [XAS]
    assert build_dataset(_message([]), Proposal(proposalId="P1"), CatalogueSettings()).to_mongo()["techniques"] == []
    # a curator's correction is the catalogue's: a later capture of the scan does not set them
    assert "techniques" not in CAPTURE_OWNED_DATASET_FIELDS
    assert "techniques" not in producer_update(doc, CAPTURE_OWNED_DATASET_FIELDS)["$set"]


def test_a_message_from_a_capture_without_techniques_is_still_read() -> None:
    old = _message([]).model_dump(mode="json")
    del old["techniques"]  # a capture not yet upgraded
    assert ScanMetadata.model_validate(old).techniques == []

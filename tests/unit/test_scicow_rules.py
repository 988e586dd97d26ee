"""scicow's rules on plain bytes and plain data: no broker, no store."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from scicow import Lookup, RawRecord, dataset_update, decode, not_newer_than, ownership_conflict, plan
from scizoo.core import CatalogueSettings, Proposal, ScanMetadata, dataset_pid
from tests.helpers import make_scan

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CATALOGUE = CatalogueSettings(pid_prefix="20.500.7")


def _message(n: int, *, status: str = "finished", proposal: str = "20240001", minutes: int = 0) -> ScanMetadata:
    return ScanMetadata(
        message_id=f"m-{n}", beamline="sim", source="manual", proposal_id=proposal, data_path="/data/x",
        scan=make_scan(n, status=status), produced_at=NOW + timedelta(minutes=minutes),
    )


def _record(value: bytes, offset: int = 0, key: bytes | None = b"sim/1") -> RawRecord:
    return RawRecord("scizoo.sim", 2, offset, key, value)


def test_decode_sets_aside_what_is_not_a_message_with_its_place_and_bytes() -> None:
    good = _message(1).model_dump_json().encode()
    decoded = decode([_record(b"{not json", 5), _record(good, 6), _record(b'{"schema_version": "1"}', 7, None)], NOW)
    assert [m.message_id for m in decoded.messages] == ["m-1"]
    first, second = decoded.dead_letters
    assert (first.topic, first.partition, first.offset, first.key) == ("scizoo.sim", 2, 5, "sim/1")
    assert base64.b64decode(first.original_b64) == b"{not json"
    assert first.reason.startswith("invalid scan message: ")
    assert second.key is None and "message_id" in second.reason and second.failed_at == NOW


def test_decode_keeps_the_last_message_of_a_scan_in_a_batch() -> None:
    running = _message(1, status="running").model_dump_json().encode()
    finished = _message(1, minutes=1).model_dump_json().encode()
    decoded = decode([_record(running, 0), _record(finished, 1)], NOW)
    assert [m.scan.status for m in decoded.messages] == ["finished"]


def test_plan_quarantines_unknown_proposals_and_writes_the_rest() -> None:
    known = Proposal(proposalId="20240001")

    def lookup(proposal_id: str) -> Lookup:
        return Lookup(known) if proposal_id == "20240001" else Lookup(None, f"{proposal_id} is unknown")

    out = plan([_message(1), _message(2, proposal="29990001")], lookup, CATALOGUE)
    assert [(m.message_id, why) for m, why in out.quarantine] == [("m-2", "29990001 is unknown")]
    [write] = out.writes
    assert write.dataset.pid == dataset_pid("m-1", "20.500.7")
    assert write.datablock is not None and write.datablock.datasetId == write.dataset.pid


def test_the_ordering_guard_matches_only_what_is_not_newer() -> None:
    query = not_newer_than("p/1", NOW)
    # An index-friendly form (no $or): what it matches on a real store is in test_pipeline.
    assert query == {"_id": "p/1", "scientificMetadata.message_produced_at.value": {"$not": {"$gt": NOW}}}


def test_a_later_message_sets_only_what_capture_owns() -> None:
    [write] = plan([_message(1)], lambda p: Lookup(Proposal(proposalId="20240001")), CATALOGUE).writes
    doc = write.dataset.to_mongo()
    update = dataset_update(doc)["$set"]
    # What the catalogue owns is never in the update: publishing, lifecycle, access, links.
    for owned_by_the_catalogue in ("_id", "pid", "isPublished", "datasetlifecycle", "ownerGroup", "accessGroups",
                                   "sharedWith", "relationships", "proposalIds", "owner", "createdAt", "createdBy",
                                   "datasetName", "keywords"):
        assert not any(k == owned_by_the_catalogue or k.startswith(owned_by_the_catalogue + ".") for k in update)
    # Scientific metadata key by key (a key a person added stays), times and sizes whole.
    assert update["scientificMetadata.scan_status"] == doc["scientificMetadata"]["scan_status"]
    assert "scientificMetadata" not in update
    assert {"size", "numberOfFiles", "startTime"} <= update.keys()
    # A person's change after the scan is newer than the scan: updatedAt never moves back.
    assert dataset_update(doc)["$max"] == {"updatedAt": doc["updatedAt"]}


def test_a_message_naming_another_proposal_conflicts_with_the_stored_dataset() -> None:
    doc = {"_id": "p/1", "proposalIds": ["20240001"]}
    assert ownership_conflict({"proposalIds": ["20240001"]}, doc) is None
    why = ownership_conflict({"proposalIds": ["20249999"]}, doc)
    assert why is not None and "20249999" in why and "20240001" in why


def test_writes_are_durable_by_default_and_the_trade_off_is_a_setting() -> None:
    from pymongo import MongoClient

    from scicow import ScicowSettings, make_ingestor

    client: MongoClient = MongoClient("mongodb://127.0.0.1:1", connect=False)  # never contacted
    try:
        default = make_ingestor(ScicowSettings(), client["x"], producer=None)  # type: ignore[arg-type]
        maxiv = make_ingestor(ScicowSettings(write_concern_w=1, write_concern_j=False), client["x"], None)  # type: ignore[arg-type]
    finally:
        client.close()
    assert default.writer.datasets.write_concern.document == {"w": "majority", "j": True}
    assert maxiv.writer.datasets.write_concern.document == {"w": 1, "j": False}


def test_an_entry_named_as_a_key_every_scan_records_never_overwrites_it() -> None:
    """A configured friendly name stored as 'scan_status' or 'message_produced_at' would
    overwrite the scan's status or the ordering guard's time: a person saving one is refused
    (scidog's context), a configuration stored before keeps capturing with that entry refused
    at capture, and whatever a message holds, the scan's own keys stay the scan's."""
    import pytest
    from pydantic import ValidationError

    from scizoo.core import NEW_CONFIGURATION, AttributeConfig, RecordedEntry, ScanColumn
    from scizoo.core._documents import scientific_metadata

    for name in ("scan_status", "scan.status", "message_produced_at"):
        with pytest.raises(ValidationError, match="every scan records"):
            AttributeConfig.model_validate({"name": name, "device": "d/x/1", "attribute": "v"},
                                           context=NEW_CONFIGURATION)
        assert AttributeConfig(name=name, device="d/x/1", attribute="v").name == name  # as stored before
    # Scan-dependent keys are not refused: channel_cut_pitch is an ordinary name.
    assert AttributeConfig.model_validate({"name": "channel_cut_pitch", "device": "d/x/1", "attribute": "v"},
                                          context=NEW_CONFIGURATION).name == "channel_cut_pitch"
    message = _message(1)
    message = message.model_copy(update={
        "scan": message.scan.model_copy(update={"motors": [ScanColumn(label="x", name="mot/x", first=0, last=1)]}),
        "entries": [RecordedEntry(name="scan_status", device="d/x/1", attribute="v", value="forged"),
                    RecordedEntry(name="message_produced_at", device="d/x/1", attribute="v", value="1999"),
                    RecordedEntry(name="motor_x", device="d/x/1", attribute="v", value=42.0)]})
    meta = scientific_metadata(message)
    assert meta["scan_status"]["value"] == "finished" and meta["scan_status_configured"]["value"] == "forged"
    assert meta["message_produced_at"]["value"] == message.produced_at
    assert meta["motor_x"]["value"] == [0, 1] and meta["motor_x_configured"]["value"] == 42.0

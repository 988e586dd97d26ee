"""What we write for SciCat has the shape the SciCat backend's schemas declare.

The shapes are those of SciCatProject/scicat-backend-next at commit :data:`BACKEND_COMMIT`,
read from its mongoose schema files by ``make_scicat_shapes.py`` into ``scicat_shapes.json``
(CI cannot fetch the backend). Every document is checked the way mongoose reads it: a field
the schema does not declare, a value of another type, a required field missing (or, for a
string, empty: mongoose's ``required`` refuses ``""``) is a problem. ``_id`` is what the
backend's pre-save hook makes it (the pid, the aid, the DOI, the proposal id).
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from scizoo.core import (
    ATTACHMENT_COLLECTION,
    DATASET_COLLECTION,
    INSTRUMENT_COLLECTION,
    ORIG_DATABLOCK_COLLECTION,
    PROPOSAL_COLLECTION,
    PUBLISHED_DATA_COLLECTION,
    CatalogueSettings,
    DataFile,
    DatasetIngested,
    Proposal,
    PublicationIn,
    RecordedEntry,
    ScanBlock,
    ScanMetadata,
    build_dataset,
    build_orig_datablock,
    build_published_data,
)
from tests.helpers import PID_PREFIX

pytestmark = pytest.mark.system

#: The backend commit the shapes were read from (SciCatProject/scicat-backend-next, main, 2026-02-14).
BACKEND_COMMIT = "4055c96270f7f11cecc1abbe6839fb6f96e73f88"
SHAPES: dict[str, Any] = json.loads((Path(__file__).parent / "scicat_shapes.json").read_text())
#: Fields of our own that we keep in SciCat's collections, each with why the backend is not hurt
#: (mongoose ignores a field its schema does not declare and returns it unchanged). Anything
#: else unknown to the backend fails.
OUR_OWN: dict[str, dict[str, str]] = {
    "PublishedData": {
        "ownerGroup": "who may change a private publication here (the backend asks createdBy)",
        "accessGroups": "read with ownerGroup by the same access rule",
        "registration": "the DataCite step a registration reached, until it is registered",
        "embargoUntil": "when the release job makes the datasets public (the DOI is public at registration)",
        "releasedTime": "when the datasets were made public (None while under embargo)",
    },
}


#: What the example PublishedData metadata schema of the backend (publishedDataConfig.example.json,
#: a facility's to change) requires beyond DataCite's kernel 4.5, which our form does not ask for.
EXAMPLE_CONFIG_ONLY = {"'affiliationIdentifierScheme' is a required property",
                       "'publisherIdentifierScheme' is a required property",
                       "'funderIdentifierType' is a required property"}


def metadata_problems(metadata: dict[str, Any]) -> list[str]:
    """How a PublishedData's ``metadata`` fails the backend's (example) metadata schema."""
    import jsonschema

    schema = SHAPES["published_data_metadata_schema"]
    validator = jsonschema.validators.validator_for(schema)(schema)
    return sorted(f"{'.'.join(map(str, e.absolute_path)) or '.'}: {e.message}"
                  for e in validator.iter_errors(metadata) if e.message not in EXAMPLE_CONFIG_ONLY)


def problems(doc: dict[str, Any], collection: str) -> list[str]:
    """Every way ``doc`` differs from what the backend declares for ``collection``."""
    shape = SHAPES["documents"][collection]
    found = _against(doc, shape["class"], "", set(OUR_OWN.get(collection, {})))
    if shape["id_from"] is not None and doc.get("_id") != doc.get(shape["id_from"]):
        found.append(f"_id: {doc.get('_id')!r} is not {shape['id_from']} {doc.get(shape['id_from'])!r}")
    return found


def _against(doc: Any, cls: str, where: str, allowed: frozenset[str] | set[str] = frozenset()) -> list[str]:
    if not isinstance(doc, dict):
        return [f"{where or '.'}: a {type(doc).__name__}, not an object ({cls})"]
    fields = SHAPES["classes"][cls]["fields"]
    out = [f"{where}{name}: not a field of {cls}" for name in doc if name not in fields and name not in allowed]
    for name, spec in fields.items():
        value = doc.get(name)
        if spec["required"] and (value is None or value == ""):
            out.append(f"{where}{name}: required by {cls}, missing")
        elif name in doc:
            out += _value(value, spec, f"{where}{name}")
    return out


_PY_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "number": (int, float), "date": (datetime,),
                                          "boolean": (bool,), "object": (dict,)}


def _value(value: Any, spec: dict[str, Any], where: str) -> list[str]:
    if value is None or spec["type"] == "any":  # null is any optional field's "not set" to mongoose
        return []
    if spec["type"] == "array":
        if not isinstance(value, list):
            return [f"{where}: a {type(value).__name__}, not an array"]
        return [p for n, item in enumerate(value) for p in _value(item, spec["items"], f"{where}[{n}]")]
    if "class" in spec:
        return _against(value, spec["class"], f"{where}.")
    kinds = _PY_TYPES[spec["type"]]
    if not isinstance(value, kinds) or (spec["type"] == "number" and isinstance(value, bool)):
        return [f"{where}: a {type(value).__name__} {value!r:.40}, not a {spec['type']}"]
    if "enum" in spec and value not in spec["enum"]:
        return [f"{where}: {value!r} is none of {spec['enum']}"]
    return []


def _message(path: Path, n: int = 1) -> ScanMetadata:
    now = datetime(2026, 12, 1, 12, n, tzinfo=UTC)
    return ScanMetadata(
        message_id=f"shape-{n}", beamline="sim", source="manual", proposal_id="20240001", data_path=str(path.parent),
        scan=ScanBlock(id=str(n), title="ascan", start=now, end=now, points=6,
                       files=[DataFile(path=str(path), size=path.stat().st_size, time=now)]),
        entries=[RecordedEntry(name="photon_energy", device="sim/energy/1", attribute="energy", value=7100.0,
                               unit="eV")],
        produced_at=now)


def _scan_file(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "scan_00001.dat"
    rows = [(0.0, 120, 1000), (1.0, 150, 980), (2.0, 90, 1010), (3.0, 240, 990)]
    path.write_text("# x counts monitor\n" + "".join(f"{x} {c} {m}\n" for x, c, m in rows))
    return path


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(buf, format="PNG")
    return buf.getvalue()


def test_the_shapes_are_those_of_the_named_backend_commit() -> None:
    assert SHAPES["backend"] == "SciCatProject/scicat-backend-next" and SHAPES["commit"] == BACKEND_COMMIT
    # What the issue rests on, as read from the schema files.
    relationship = SHAPES["classes"]["AttachmentRelationshipClass"]["fields"]
    assert relationship["targetId"]["type"] == "string" and "targetIds" not in relationship
    assert SHAPES["documents"]["Attachment"]["id_from"] == "aid"


def test_the_check_finds_unknown_fields_wrong_types_and_missing_required_ones(tmp_path) -> None:
    doc = build_dataset(_message(_scan_file(tmp_path)), Proposal(proposalId="20240001", email="pi@example.org"),
                        CatalogueSettings()).to_mongo()
    assert problems(doc, "Dataset") == []
    doc |= {"proposalId": "20240001", "size": "12", "creationTime": "2026-12-01T12:00:00Z"}
    doc["datasetlifecycle"]["archivable"] = "yes"
    doc["relationships"] = [{"targetIds": ["x"]}]
    del doc["owner"]
    assert sorted(problems(doc, "Dataset")) == sorted([
        "proposalId: not a field of DatasetClass", "size: a str '12', not a number",
        "creationTime: a str '2026-12-01T12:00:00Z', not a date", "datasetlifecycle.archivable: a str 'yes', not a boolean",
        "relationships[0].targetIds: not a field of RelationshipClass",
        "relationships[0].pid: required by RelationshipClass, missing",
        "relationships[0].relationship: required by RelationshipClass, missing", "owner: required by DatasetClass, missing"])


def test_what_the_builders_make_has_the_backends_shape(tmp_path) -> None:
    from scizoo.core import build_attachment

    now = datetime(2026, 12, 2, tzinfo=UTC)
    # A proposal that names no email: the facility's data contact is the dataset's (SciCat needs one).
    dataset = build_dataset(_message(_scan_file(tmp_path)), Proposal(proposalId="20240001", ownerGroup="g"),
                            CatalogueSettings(contact_email="data@example.org"))
    assert dataset.contactEmail == "data@example.org"
    block = build_orig_datablock(_message(_scan_file(tmp_path)), dataset)
    assert block is not None
    attachment = build_attachment(dataset.to_mongo(), aid="a-1", caption="beam", thumbnail="data:image/png;base64,",
                                  user="alice", now=now)
    pub = PublicationIn(title="t", abstract="a", creators=[{"name": "Lovelace, Ada"}], publisher="MAX IV",
                        publication_year=2026, dataset_pids=[dataset.pid])
    published = build_published_data(pub, doi="10.5072/abc", owner_group="g", files=1, size=2, user="alice", now=now,
                                      landing_url="https://example.org/10.5072/abc")
    assert problems(dataset.to_mongo(), "Dataset") == []
    # The PI by name, as the schema describes principalInvestigators ("first and last name").
    named = build_dataset(_message(_scan_file(tmp_path)), Proposal(proposalId="1", pi_firstname="Ada",
                                                                   pi_lastname="Lovelace", pi_email="ada@example.org"),
                          CatalogueSettings())
    assert named.principalInvestigators == ["Ada Lovelace"] and named.contactEmail == "ada@example.org"
    assert problems(block.to_mongo(), "OrigDatablock") == []
    assert problems(attachment.to_mongo(), "Attachment") == []
    assert problems(published.to_mongo(), "PublishedData") == []
    assert metadata_problems(published.metadata) == []


def test_a_proposal_from_the_user_office_is_stored_in_the_backends_shape(db) -> None:
    from scicow._proposals import ProposalLookup
    from scizoo.testing import UserOffice

    office_answer = {"title": "Oxides", "email": "ada@example.org", "pi_firstname": "Ada", "pi_lastname": "Lovelace",
                     "startTime": "2026-11-01T08:00:00+01:00", "endTime": "2026-11-03T08:00:00Z",
                     "MeasurementPeriodList": [{"instrument": "sim", "start": "2026-11-01T08:00:00Z"}],
                     "beamtime_hours": 48, "panel": {"rank": 2}}
    untitled = {"email": "ada@example.org"}
    with UserOffice({"20269999": office_answer, "20269998": untitled}) as office:
        lookup = ProposalLookup(db[PROPOSAL_COLLECTION], office.url)
        assert lookup.get("20269999").proposal is not None
        # One SciCat could not hold is not stored: the scan waits in quarantine with the reason.
        refused = lookup.get("20269998")
        assert refused.proposal is None and "title" in refused.reason, refused.reason
    assert db[PROPOSAL_COLLECTION].find_one({"_id": "20269998"}) is None
    stored = db[PROPOSAL_COLLECTION].find_one({"_id": "20269999"})
    assert problems(stored, "Proposal") == []
    # Nothing the user office said is lost: what SciCat has no field for is in its metadata.
    assert stored["startTime"] == datetime(2026, 11, 1, 7, tzinfo=UTC)
    assert stored["metadata"] == {"beamtime_hours": 48, "panel": {"rank": 2}}
    assert stored["createdAt"] == stored["updatedAt"] and stored["createdAt"].tzinfo is not None  # SciCat sorts on them
    assert stored["MeasurementPeriodList"][0]["start"] == datetime(2026, 11, 1, 8, tzinfo=UTC)
    # And it reads back as the proposal it was.
    again = Proposal.from_document(stored)
    assert (again.title, again.pi_lastname, again.ownerGroup) == ("Oxides", "Lovelace", "20269999")


def test_the_proposal_the_demo_stores_has_the_backends_shape() -> None:
    from scizoo.demo import CATALOGUE_PROPOSAL

    assert problems(CATALOGUE_PROPOSAL, "Proposal") == []


def test_what_the_running_services_write_has_the_backends_shape(mongo, db, tmp_path) -> None:
    """A raw scan as scicow writes it, its reduction (derived dataset, datablock, plot), an image
    from the scan table and a publication: every document in SciCat's collections passes."""
    from scanlog_api import ScanlogSettings, TokenUser, create_app
    from scireduce import Reducer, Rule, RuleSet, ScireduceSettings
    from scizoo.testing import DataCiteStandIn

    message = _message(_scan_file(tmp_path / "raw"))
    raw = build_dataset(message, Proposal.from_document(db[PROPOSAL_COLLECTION].find_one()), CatalogueSettings(
        pid_prefix=PID_PREFIX))
    db[DATASET_COLLECTION].insert_one(raw.to_mongo())
    block = build_orig_datablock(message, raw)
    assert block is not None
    db[ORIG_DATABLOCK_COLLECTION].insert_one(block.to_mongo())
    reducer = Reducer(db, RuleSet(rules=[Rule(name="fine", pipeline="profile", params={"bin": {"bins": 2}})]),
                      ScireduceSettings(work_dir=tmp_path / "work", pid_prefix=PID_PREFIX))
    [job] = reducer.handle(DatasetIngested(pid=raw.pid, message_id=message.message_id, beamline="sim",
                                           proposal_id="20240001", status="finished", ingested_at=message.produced_at))
    assert job["state"] == "succeeded", job.get("log")
    group = raw.ownerGroup
    auth = {"Authorization": "Bearer t"}
    with DataCiteStandIn() as datacite, TestClient(create_app(ScanlogSettings(
            mongo_uri=mongo.uri, database=db.name, doi_prefix="10.5072", public_url="https://scans.example.org",
            datacite_url=datacite.url, datacite_username="SCIZOO.TEST", datacite_password="dc-secret",
            tokens={"t": TokenUser(user="ada", groups=[group])}))) as client:
        made = client.post(f"/api/scans/{raw.pid}/attachments", headers=auth, files={"image": ("g.png", _png())})
        assert made.status_code == 201, made.text
        form = {"title": "Oxides", "abstract": "Pt(111)", "creators": [{"name": "Lovelace, Ada"}],
                "publisher": "MAX IV", "publication_year": 2026, "dataset_pids": [raw.pid]}
        published = client.post("/api/publications", headers=auth, json=form)
        assert published.status_code == 201, published.text
        registered = client.post(f"/api/publications/{published.json()['doi']}/register", headers=auth)
        assert registered.status_code == 200, registered.text
        amended = client.put(f"/api/publications/{published.json()['doi']}", headers=auth,
                             json={**form, "subjects": ["XPS"], "funding": [{"funder_name": "EU"}]})
        assert amended.status_code == 200, amended.text
    seen = {}
    for collection in ("Dataset", "OrigDatablock", "Attachment", "PublishedData"):
        docs = list(db[collection].find())
        seen[collection] = len(docs)
        for doc in docs:
            assert problems(doc, collection) == [], (collection, doc["_id"])
    assert seen == {"Dataset": 2, "OrigDatablock": 2, "Attachment": 2, "PublishedData": 1}
    assert {a["relationships"][0]["targetId"] for a in db[ATTACHMENT_COLLECTION].find()} == {
        raw.pid, job["derived"]}
    stored = db[PUBLISHED_DATA_COLLECTION].find_one()
    assert stored["status"] == "amended" and metadata_problems(stored["metadata"]) == []
    assert stored["metadata"]["subjects"] == [{"subject": "XPS"}] and stored["metadata"]["publicationYear"] == 2026


def test_the_migration_moves_what_an_older_scizoo_stored_once(mongo, db) -> None:
    """``scizoo catalogue migrate`` (what every service runs at start) on the real store: the
    attachments scanlog and scireduce wrote before, the ones from before relationships, a
    publication whose DataCite properties were only under metadata.datacite, and datasets whose
    unitSI pint spelled."""
    import subprocess
    import sys

    now = datetime(2026, 12, 1, tzinfo=UTC)
    owned = {"ownerGroup": "g", "accessGroups": [], "isPublished": False, "createdBy": "scanlog",
             "updatedBy": "scanlog", "createdAt": now, "updatedAt": now, "caption": "", "thumbnail": "data:,"}
    older = [{"_id": f"a{n}", "aid": f"a{n}", "datasetId": f"p/{n}", **owned, "relationships": [
        {"targetIds": [f"p/{n}"], "targetType": "dataset", "relationType": "is attached to"}]} for n in range(1500)]
    oldest = [{"_id": f"b{n}", "datasetId": f"p/{n}", **owned} for n in range(20)]
    db[ATTACHMENT_COLLECTION].insert_many([*older, *oldest])
    db[ATTACHMENT_COLLECTION].create_index("relationships.targetIds")
    pub = PublicationIn(title="t", abstract="a", creators=[{"name": "Lovelace, Ada"}], publisher="MAX IV",
                        publication_year=2026, dataset_pids=["p/1"])
    old = build_published_data(pub, doi="10.5072/old", owner_group="g", files=1, size=2, user="alice", now=now,
                               landing_url="https://example.org/10.5072/old").to_mongo()
    old["metadata"] = {key: old["metadata"][key] for key in ("scizoo_form", "datacite")}  # as stored before
    db[PUBLISHED_DATA_COLLECTION].insert_one(old)
    # unitSI as pint spelled it (before), nested and in a list; as SciCat spells it; as SciCat stores
    # a unit mathjs cannot read (the unit itself).
    energy = {"value": 8.0, "unit": "keV", "valueSI": 1.28174130720e-15, "unitSI": "kg*m**2/s**2"}
    db[DATASET_COLLECTION].insert_many([
        {"_id": "d1", "scientificMetadata": {"photon_energy": energy, "pressure": {
            "value": 2.0, "unit": "mbar", "valueSI": 200.0, "unitSI": "kg/m/s**2"}}},
        {"_id": "d2", "scientificMetadata": {"detectors": {"value": [
            {"name": "pilatus", "exposure": {"value": 0.1, "unit": "s", "valueSI": 0.1, "unitSI": "s"}},
            {"name": "xspress", "rate": {"value": 5.0, "unit": "kHz", "valueSI": 5000.0, "unitSI": "1/s"}}]}}},
        {"_id": "d3", "scientificMetadata": {"photon_energy": {**energy, "unitSI": "(kg m^2) / s^2"},
                                             "counts": {"value": 3, "unit": "cts", "valueSI": 3, "unitSI": "cts"}}},
    ])

    def migrate() -> str:
        env = {"SCIZOO_MONGO_URI": mongo.uri, "SCIZOO_DATABASE": db.name, "PATH": ""}
        out = subprocess.run([sys.executable, "-m", "scizoo.cli", "catalogue", "migrate"], env=env,
                             capture_output=True, text=True, timeout=300, check=True)
        return out.stdout.strip()

    assert migrate() == ("migrate: 1520 attachments rewritten, 1 publications rewritten, "
                         "2 datasets' unitSI rewritten")
    assert migrate() == "migrate: 0 attachments rewritten, 0 publications rewritten, 0 datasets' unitSI rewritten"
    meta = {d["_id"]: d["scientificMetadata"] for d in db[DATASET_COLLECTION].find()}
    assert (meta["d1"]["photon_energy"]["unitSI"], meta["d1"]["pressure"]["unitSI"]) == ("(kg m^2) / s^2",
                                                                                       "kg / (m s^2)")
    assert meta["d2"]["detectors"]["value"][1]["rate"]["unitSI"] == "s^-1"
    assert meta["d2"]["detectors"]["value"][0]["exposure"]["unitSI"] == "s"
    assert (meta["d3"]["photon_energy"]["unitSI"], meta["d3"]["counts"]["unitSI"]) == ("(kg m^2) / s^2", "cts")
    assert metadata_problems(db[PUBLISHED_DATA_COLLECTION].find_one()["metadata"]) == []
    for doc in db[ATTACHMENT_COLLECTION].find():
        assert problems(doc, "Attachment") == [], doc["_id"]
    n = 7
    assert sorted(a["_id"] for a in db[ATTACHMENT_COLLECTION].find(
        {"relationships.targetId": f"p/{n}", "relationships.targetType": "dataset"})) == [f"a{n}", f"b{n}"]
    assert "relationships.targetIds_1" not in db[ATTACHMENT_COLLECTION].index_information()


def test_what_scicow_ingests_from_kafka_has_the_backends_shape(kafka, scicow, db, prefix, tmp_path) -> None:
    """A scan through the real broker and scicow: its Dataset and OrigDatablock as stored."""
    from tests.helpers import wait_for
    from tests.system.test_pipeline import _produce

    scicow()
    first = _message(_scan_file(tmp_path / "raw"))
    again = first.model_copy(update={"produced_at": datetime(2026, 12, 1, 13, tzinfo=UTC)})  # a later update
    _produce(kafka.bootstrap_servers, prefix, [first, again])
    # scicow writes a batch's datasets before their datablocks (a block never names a dataset that
    # is not there yet), so the block is waited for too.
    wait_for(lambda: db[DATASET_COLLECTION].count_documents(
        {"scientificMetadata.message_produced_at.value": again.produced_at}) == 1
        and db[ORIG_DATABLOCK_COLLECTION].count_documents({}) == 1, what="the dataset, updated, and its datablock")
    [dataset] = db[DATASET_COLLECTION].find()
    [block] = db[ORIG_DATABLOCK_COLLECTION].find()
    assert problems(dataset, "Dataset") == []
    assert problems(block, "OrigDatablock") == []
    # The Instrument the dataset names exists, so SciCat's include=instruments finds it.
    [instrument] = db[INSTRUMENT_COLLECTION].find()
    assert problems(instrument, "Instrument") == [] and dataset["instrumentIds"] == [instrument["pid"]]
    assert any(ix.get("unique") and ix["key"] == [("uniqueName", 1)]
               for ix in db[INSTRUMENT_COLLECTION].index_information().values())


def test_the_migrations_run_at_the_first_start_only_and_by_hand_whenever_asked(db) -> None:
    """Every service's start reads the mark instead of every attachment (minutes at a facility's size)."""
    from scizoo.core import ensure_indexes, migrate_catalogue

    def old(aid: str) -> dict[str, Any]:
        return {"_id": aid, "caption": "x", "relationships": [{"targetIds": ["p"], "targetType": "dataset",
                                                               "relationType": "is attached to"}]}

    attachments = db[ATTACHMENT_COLLECTION]
    attachments.insert_one(old("first"))
    ensure_indexes(db)  # the first start: moved, and the store marked
    assert attachments.find_one({"_id": "first"})["relationships"][0]["targetId"] == "p"
    attachments.insert_one(old("later"))  # an older scizoo still writing
    ensure_indexes(db)
    assert "targetIds" in attachments.find_one({"_id": "later"})["relationships"][0]
    assert migrate_catalogue(db, force=True)["attachments"] == 1  # by hand: moved
    assert attachments.find_one({"_id": "later"})["relationships"][0]["targetId"] == "p"

"""OAI-PMH 2.0 as harvesters read it: every answer checked against the protocol's XML schema,
selective harvesting by datestamp, the errors of section 3.6, resumption tokens that refuse
anything we did not give, text XML cannot hold, DataCite's oai_datacite envelope, and Sickle
(a harvester from PyPI, not ours) over HTTP, GET and POST.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from scanlog_api import ScanlogServer, ScanlogSettings, TokenUser, _oai, create_app
from scizoo.core import DATASET_COLLECTION, PUBLISHED_DATA_COLLECTION, Creator, PublicationIn, build_published_data
from scizoo.testing import DataCiteStandIn
from tests.system.test_scan_api import _dataset

pytestmark = pytest.mark.system

A = {"Authorization": "Bearer ta"}
HOST = "scans.example.org"
NS = {"o": "http://www.openarchives.org/OAI/2.0/", "dc": "http://purl.org/dc/elements/1.1/",
      "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/", "od": "http://schema.datacite.org/oai/oai-1.1/",
      "k": "http://datacite.org/schema/kernel-4"}
SCHEMAS = Path(__file__).parent / "oai_schemas"
OAI_PMH = etree.XMLSchema(etree.parse(str(SCHEMAS / "OAI-PMH.xsd")))
OAI_DATACITE = etree.XMLSchema(etree.parse(str(SCHEMAS / "oai_datacite-1.1.xsd")))
DC_ELEMENTS = {"title", "creator", "subject", "description", "publisher", "contributor", "date", "type", "format",
               "identifier", "source", "language", "relation", "coverage", "rights"}
#: updatedAt of the four registered publications (one more is private): the datestamps are to the second.
TIMES = [datetime(2026, 3, 1, 10, 0, 0, 250_000, tzinfo=UTC), datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC),
         datetime(2026, 3, 2, 0, 0, 0, tzinfo=UTC), datetime(2026, 3, 3, 23, 59, 59, 900_000, tzinfo=UTC)]
Query = Sequence[tuple[str, str]]


def _settings(mongo: Any, db: Any, datacite_url: str = "http://127.0.0.1:9") -> ScanlogSettings:
    return ScanlogSettings(mongo_uri=mongo.uri, database=db.name, doi_prefix="10.5072", public_url=f"https://{HOST}",
                           datacite_url=datacite_url, datacite_username="SCIZOO.TEST", datacite_password="dc-secret",
                           publisher="scizoo lab", admin_email="data@scans.example.org",
                           tokens={"ta": TokenUser(user="alice", groups=["A"])})


def _publication(n: int, updated: datetime, *, title: str = "Pt(111) oxidation, operando", status: str = "registered",
                 abstract: str = "XPS of Pt(111) under 1 mbar O2") -> dict[str, Any]:
    """A PublishedData document as the publisher writes it (the real builder), changed last at ``updated``."""
    form = PublicationIn(title=title, abstract=abstract, creators=[Creator(name="Lovelace, Ada")],
                         publisher="scizoo lab", publication_year=2026, subjects=["XPS"], dataset_pids=[f"pid-{n}"])
    doi = f"10.5072/oai{n}"
    doc = build_published_data(form, doi=doi, owner_group="A", files=0, size=0, user="alice", now=updated,
                               landing_url=f"https://{HOST}/doi/{doi}").to_mongo()
    return {**doc, "status": status, "registeredTime": updated if status != "private" else None}


def _oai_id(n: int) -> str:
    return f"oai:{HOST}:10.5072/oai{n}"


@pytest.fixture()
def client(mongo, db) -> Iterator[TestClient]:
    db[PUBLISHED_DATA_COLLECTION].insert_many([_publication(n, t) for n, t in enumerate(TIMES)]
                                              + [_publication(9, TIMES[1], status="private")])
    with TestClient(create_app(_settings(mongo, db))) as c:
        yield c


def _check_metadata(root: etree._Element) -> None:
    """What the copy of OAI-PMH.xsd leaves unprocessed: each record's metadata against its own schema."""
    for metadata in root.iterfind(".//o:metadata", NS):
        assert len(metadata) == 1
        (child,) = metadata
        if child.tag == f"{{{NS['od']}}}oai_datacite":
            OAI_DATACITE.assertValid(etree.ElementTree(child))
        elif child.tag == f"{{{NS['oai_dc']}}}dc":
            for element in child:
                assert etree.QName(element).namespace == NS["dc"] and etree.QName(element).localname in DC_ELEMENTS
                assert element.text and not len(element)
        else:
            assert child.tag == f"{{{NS['k']}}}resource", child.tag


def _get(client: TestClient, query: Query) -> etree._Element:
    """One request: an HTTP 200 in well-formed XML that the OAI-PMH schema accepts."""
    response = client.get("/oai", params=list(query))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    root = etree.fromstring(response.content)  # raises on ill-formed XML
    OAI_PMH.assertValid(root)
    _check_metadata(root)
    return root


def _error(root: etree._Element) -> str | None:
    error = root.find("o:error", NS)
    return None if error is None else error.get("code")


def _identifiers(root: etree._Element) -> list[str]:
    return [e.text for e in root.iterfind(".//o:header/o:identifier", NS)]


def test_identify_says_what_is_accepted(client: TestClient) -> None:
    identify = _get(client, [("verb", "Identify")]).find("o:Identify", NS)
    assert identify.findtext("o:granularity", namespaces=NS) == "YYYY-MM-DDThh:mm:ssZ"
    assert identify.findtext("o:earliestDatestamp", namespaces=NS) == "2026-03-01T10:00:00Z"
    assert identify.findtext("o:adminEmail", namespaces=NS) == "data@scans.example.org"
    assert identify.findtext("o:baseURL", namespaces=NS) == f"https://{HOST}/oai"
    formats = _get(client, [("verb", "ListMetadataFormats")])
    assert [f.text for f in formats.iterfind(".//o:metadataPrefix", NS)] == ["oai_dc", "oai_datacite", "datacite"]
    assert formats.find("o:request", NS).attrib == {"verb": "ListMetadataFormats"}
    one = _get(client, [("verb", "ListMetadataFormats"), ("identifier", _oai_id(0))])
    assert len(one.findall(".//o:metadataFormat", NS)) == 3


def test_selective_harvesting_by_datestamp_at_either_granularity(client: TestClient) -> None:
    def harvest(**bounds: str) -> list[str] | str | None:
        root = _get(client, [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"), *bounds.items()])
        return _error(root) or _identifiers(root)

    everything = _get(client, [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc")])
    assert _identifiers(everything) == [_oai_id(n) for n in range(4)]  # oldest change first; the private one never
    assert [d.text for d in everything.iterfind(".//o:datestamp", NS)] == [
        "2026-03-01T10:00:00Z", "2026-03-01T10:00:05Z", "2026-03-02T00:00:00Z", "2026-03-03T23:59:59Z"]
    # Both bounds include the records whose datestamp equals them, at the second and at the day.
    assert harvest(**{"from": "2026-03-01T10:00:05Z"}) == [_oai_id(n) for n in (1, 2, 3)]
    assert harvest(**{"from": "2026-03-01T10:00:01Z"}) == [_oai_id(n) for n in (1, 2, 3)]
    assert harvest(until="2026-03-01T10:00:00Z") == [_oai_id(0)]
    assert harvest(until="2026-03-01T10:00:04Z") == [_oai_id(0)]
    assert harvest(**{"from": "2026-03-02", "until": "2026-03-03"}) == [_oai_id(2), _oai_id(3)]
    assert harvest(**{"from": "2026-03-01", "until": "2026-03-01"}) == [_oai_id(0), _oai_id(1)]
    assert harvest(**{"from": "2026-03-03T23:59:59Z", "until": "2026-03-03T23:59:59Z"}) == [_oai_id(3)]
    assert harvest(**{"from": "2026-03-04"}) == "noRecordsMatch"
    assert harvest(until="2026-02-28") == "noRecordsMatch"
    records = _get(client, [("verb", "ListRecords"), ("metadataPrefix", "oai_datacite"), ("from", "2026-03-02")])
    assert [e.text for e in records.iterfind(".//k:identifier", NS)] == ["10.5072/oai2", "10.5072/oai3"]
    assert records.find("o:request", NS).attrib == {"verb": "ListRecords", "metadataPrefix": "oai_datacite",
                                                   "from": "2026-03-02"}


@pytest.mark.parametrize(("query", "code"), [
    ([], "badVerb"),
    ([("verb", "Nope")], "badVerb"),
    ([("verb", "Identify"), ("verb", "Identify")], "badVerb"),
    ([("verb", "Identify"), ("metadataPrefix", "oai_dc")], "badArgument"),
    ([("verb", "ListRecords")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("metadataPrefix", "oai_dc")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("foo", "1")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2026-13-01")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2026-02-30")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2026-03-01T10:00:00")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2026-03-01T10:00:00.5Z")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2026-03-01T10:00Z")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2026-03-01"),
      ("until", "2026-03-02T00:00:00Z")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2026-03-02"), ("until", "2026-03-01")],
     "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("resumptionToken", "x")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai dc")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "x" * 5000)], "badArgument"),
    ([("verb", "GetRecord"), ("identifier", _oai_id(0))], "badArgument"),
    ([("verb", "ListSets"), ("set", "a")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "marc21")], "cannotDisseminateFormat"),
    ([("verb", "GetRecord"), ("identifier", _oai_id(0)), ("metadataPrefix", "marc21")], "cannotDisseminateFormat"),
    ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("set", "physics")], "noSetHierarchy"),
    ([("verb", "ListSets")], "noSetHierarchy"),
    ([("verb", "ListSets"), ("resumptionToken", "x")], "badResumptionToken"),
    ([("verb", "GetRecord"), ("identifier", _oai_id(7)), ("metadataPrefix", "oai_dc")], "idDoesNotExist"),
    ([("verb", "GetRecord"), ("identifier", _oai_id(9)), ("metadataPrefix", "oai_dc")], "idDoesNotExist"),  # private
    ([("verb", "GetRecord"), ("identifier", "10.5072/oai0"), ("metadataPrefix", "oai_dc")], "idDoesNotExist"),
    ([("verb", "GetRecord"), ("identifier", "oai:\x01\x02:\x7f\ufffe"), ("metadataPrefix", "oai_dc")],
     "idDoesNotExist"),
    ([("verb", "ListMetadataFormats"), ("identifier", _oai_id(7))], "idDoesNotExist"),
])
def test_every_refusal_is_the_protocols_error(client: TestClient, query: Query, code: str) -> None:
    root = _get(client, query)
    assert _error(root) == code
    message = root.findtext("o:error", namespaces=NS)
    assert message and len(message) < 400  # says why, quotes at most a piece of the input
    request = root.find("o:request", NS)
    assert request.text == f"https://{HOST}/oai"
    if code in ("badVerb", "badArgument"):
        assert request.attrib == {}  # 3.2: the base URL only
    else:
        assert request.get("verb") == dict(query)["verb"]


def test_post_is_answered_like_get(client: TestClient) -> None:
    body = "verb=ListIdentifiers&metadataPrefix=oai_dc&from=2026-03-02"
    response = client.post("/oai", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    OAI_PMH.assertValid(root)
    assert _identifiers(root) == [_oai_id(2), _oai_id(3)]
    repeated = client.post("/oai", content="verb=Identify&verb=Identify",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert _error(etree.fromstring(repeated.content)) == "badVerb"


def _token(root: etree._Element) -> str:
    return root.findtext(".//o:resumptionToken", namespaces=NS) or ""


def test_resumption_tokens_page_through_and_refuse_anything_else(client: TestClient, monkeypatch) -> None:
    monkeypatch.setattr(_oai, "PAGE", 3)
    first = _get(client, [("verb", "ListRecords"), ("metadataPrefix", "oai_dc")])
    token = _token(first)
    assert len(_identifiers(first)) == 3 and token and first.find(".//o:resumptionToken", NS).get("cursor") == "0"
    following = _get(client, [("verb", "ListRecords"), ("resumptionToken", token)])
    assert _identifiers(following) == [_oai_id(3)]
    last = following.find(".//o:resumptionToken", NS)
    assert last is not None and not last.text and last.get("cursor") == "3"  # 3.5: the list is complete
    assert following.find("o:request", NS).attrib == {"verb": "ListRecords", "resumptionToken": token}
    # The same token again gives the same page (3.5.1), with the request's from/until kept in it.
    assert _identifiers(_get(client, [("verb", "ListRecords"), ("resumptionToken", token)])) == [_oai_id(3)]
    bounded = _get(client, [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"), ("until", "2026-03-02")])
    assert _identifiers(bounded) == [_oai_id(0), _oai_id(1), _oai_id(2)] and not _token(bounded)

    inside = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))

    def encoded(text: str | bytes) -> str:
        raw = text.encode() if isinstance(text, str) else text
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    refused = ["x", "oai_dc:99999999999999999999999999999999999", "oai_dc:100", "oai_dc:-1", "=", "%%%", "A" * 10_000,
               token + "A", token[:-1], token[1:], token.upper(), encoded("{}"), encoded("[1, 2"), encoded("9" * 5000),
               encoded('{"v": 1}'), encoded(b"\xff\xfe\x00"), encoded(inside[:-1]),
               encoded(inside.replace(b'"at":', b'"at":-')),
               encoded(inside.replace(b'"oai_dc"', b'"marc21"')),
               encoded(inside.replace(b'"cursor":', b'"cursor":1e400,"x":'))]
    for bad in refused:
        assert _error(_get(client, [("verb", "ListRecords"), ("resumptionToken", bad)])) == "badResumptionToken", bad[:80]
    # A token is for the verb that gave it.
    assert _error(_get(client, [("verb", "ListIdentifiers"), ("resumptionToken", token)])) == "badResumptionToken"
    # Fuzz: random text and every one-character change of a real token. Never a 500; always the protocol's XML.
    rng = random.Random(18)
    alphabet = "ABCxyz019-_=:/+%&?\x00\x01\x7f\u00e9\ud7ff\ufffe"
    fuzz = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80))) for _ in range(150)]
    fuzz += [token[:i] + c + token[i + 1:] for i in range(0, len(token), 3) for c in "A_"]
    for text in fuzz:
        root = _get(client, [("verb", "ListRecords"), ("resumptionToken", text)])
        assert _error(root) in ("badResumptionToken", "noRecordsMatch", None), text


def test_a_record_changed_mid_harvest_is_delivered_again_and_none_is_skipped(client: TestClient, db,
                                                                             monkeypatch) -> None:
    monkeypatch.setattr(_oai, "PAGE", 2)
    first = _get(client, [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc")])
    seen = _identifiers(first)
    # An amendment of a record already delivered moves it to the end of the list.
    db[PUBLISHED_DATA_COLLECTION].update_one({"_id": "10.5072/oai0"}, {"$set": {"updatedAt": datetime.now(UTC)}})
    token = _token(first)
    while token:
        page = _get(client, [("verb", "ListIdentifiers"), ("resumptionToken", token)])
        seen += _identifiers(page)
        token = _token(page)
    assert seen == [_oai_id(0), _oai_id(1), _oai_id(2), _oai_id(3), _oai_id(0)]


def test_text_xml_cannot_hold_is_replaced_in_every_format(client: TestClient, db) -> None:
    title = "Pt\x00(111)\x01 \x0b\x1f\ufffe oxidation\ttab"
    db[PUBLISHED_DATA_COLLECTION].insert_one(_publication(5, TIMES[3] + timedelta(days=1), title=title,
                                                          abstract="beam\x07 dump \x1b[31m"))
    expected = "Pt\ufffd(111)\ufffd \ufffd\ufffd\ufffd oxidation\ttab"
    since = [("from", "2026-03-04")]
    dc = _get(client, [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), *since])
    assert dc.findtext(".//dc:title", namespaces=NS) == expected
    assert dc.findtext(".//dc:description", namespaces=NS) == "beam\ufffd dump \ufffd[31m"
    for prefix in ("oai_datacite", "datacite"):
        records = _get(client, [("verb", "ListRecords"), ("metadataPrefix", prefix), *since])
        assert records.findtext(".//k:title", namespaces=NS) == expected
    one = _get(client, [("verb", "GetRecord"), ("identifier", _oai_id(5)), ("metadataPrefix", "oai_datacite")])
    assert one.findtext(".//k:title", namespaces=NS) == expected


def test_oai_datacite_is_datacites_envelope(client: TestClient) -> None:
    root = _get(client, [("verb", "GetRecord"), ("identifier", _oai_id(1)), ("metadataPrefix", "oai_datacite")])
    envelope = root.find("o:GetRecord/o:record/o:metadata/od:oai_datacite", NS)
    assert envelope is not None  # validated against DataCite's oai-1.1 schema by _get
    assert envelope.findtext("od:schemaVersion", namespaces=NS) == "4.5"
    assert envelope.findtext("od:datacentreSymbol", namespaces=NS) == "SCIZOO.TEST"
    resource = envelope.find("od:payload/k:resource", NS)
    assert resource.findtext("k:identifier", namespaces=NS) == "10.5072/oai1"
    assert resource.findtext("k:titles/k:title", namespaces=NS) == "Pt(111) oxidation, operando"
    bare = _get(client, [("verb", "GetRecord"), ("identifier", _oai_id(1)), ("metadataPrefix", "datacite")])
    assert bare.find("o:GetRecord/o:record/o:metadata/k:resource", NS) is not None
    dc = _get(client, [("verb", "GetRecord"), ("identifier", _oai_id(1)), ("metadataPrefix", "oai_dc")])
    assert dc.findtext(".//dc:identifier", namespaces=NS) == "https://doi.org/10.5072/oai1"
    assert [c.text for c in dc.iterfind(".//dc:creator", NS)] == ["Lovelace, Ada"]


def _form(pid: str) -> dict[str, Any]:
    return {"title": "Pt(111) oxidation, operando", "abstract": "XPS of Pt(111) under 1 mbar O2",
            "creators": [{"name": "Lovelace, Ada", "orcid": "0000-0002-1825-0097", "affiliation": "scizoo lab"}],
            "publisher": "scizoo lab", "publication_year": 2026, "subjects": ["XPS", "catalysis"],
            "dataset_pids": [pid]}


def test_a_real_harvester_gets_every_published_record(mongo, db, monkeypatch) -> None:
    """Sickle over HTTP, GET and POST, across resumption tokens, whole and from a datestamp on;
    publications made and registered through the API (DataCite's stand-in), one left private."""
    from sickle import Sickle
    from sickle.oaiexceptions import NoRecordsMatch

    monkeypatch.setattr(_oai, "PAGE", 2)  # five records over three pages
    db[DATASET_COLLECTION].insert_many([_dataset(n, "A") for n in range(1, 7)])
    with DataCiteStandIn() as datacite, ScanlogServer(_settings(mongo, db, datacite.url), grace_s=1) as server, \
            TestClient(create_app(_settings(mongo, db, datacite.url))) as client:
        dois = []
        for n in range(1, 7):
            made = client.post("/api/publications", headers=A, json=_form(_dataset(n, "A")["pid"]))
            doi = made.json()["doi"]
            if n < 6:
                assert client.post(f"/api/publications/{doi}/register", headers=A).status_code == 200
                dois.append(doi)
        stamps = []
        for method in ("GET", "POST"):
            harvester = Sickle(f"{server.url}/oai", http_method=method)
            dc = list(harvester.ListRecords(metadataPrefix="oai_dc"))
            assert sorted(r.header.identifier for r in dc) == sorted(f"oai:{HOST}:{d}" for d in dois)
            assert all(r.metadata["title"] == ["Pt(111) oxidation, operando"] for r in dc)
            records = list(harvester.ListRecords(metadataPrefix="oai_datacite"))
            assert sorted(r.metadata["identifier"][0] for r in records) == sorted(dois)
            assert {r.metadata["datacentreSymbol"][0] for r in records} == {"SCIZOO.TEST"}
            stamps = [r.header.datestamp for r in dc]
        # Incremental harvesting: from the last datestamp seen, the records changed since.
        later = list(Sickle(f"{server.url}/oai").ListIdentifiers(metadataPrefix="oai_dc", **{"from": stamps[-1]}))
        assert later and all(h.datestamp >= stamps[-1] for h in later)
        with pytest.raises(NoRecordsMatch):
            list(Sickle(f"{server.url}/oai").ListIdentifiers(metadataPrefix="oai_dc", **{"from": "2999-01-01"}))
        identify = Sickle(f"{server.url}/oai").Identify()
        assert identify.granularity == "YYYY-MM-DDThh:mm:ssZ" and identify.adminEmail == "data@scans.example.org"

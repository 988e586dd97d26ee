"""OAI-PMH 2.0 over the registered publications, in ``oai_dc`` and ``oai_datacite``.

Written by hand with the standard library's ElementTree: the protocol is small (six
verbs, a handful of errors), and the server-side libraries on PyPI are unmaintained. The
DataCite XML comes from the datacite package (``schema45.tostring``). Lists are paged with
a resumption token (the offset), so no request does unbounded work.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from datacite import schema45

OAI = "http://www.openarchives.org/OAI/2.0/"
DC = "http://purl.org/dc/elements/1.1/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
PAGE = 100
FORMATS = {
    "oai_dc": ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC),
    "oai_datacite": ("http://schema.datacite.org/meta/kernel-4.5/metadata.xsd", "http://datacite.org/schema/kernel-4"),
}
for prefix, uri in (("", OAI), ("dc", DC), ("oai_dc", OAI_DC), ("xsi", XSI)):
    ET.register_namespace(prefix, uri)


def _stamp(value: datetime | None) -> str:
    return (value or datetime(1970, 1, 1, tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class OaiProvider:
    """Answers OAI-PMH requests; ``records(skip, limit)`` gives registered publications, oldest first."""

    def __init__(self, base_url: str, repository: str, admin_email: str,
                 records: Callable[[int, int], list[dict[str, Any]]], get: Callable[[str], dict[str, Any] | None],
                 domain: str) -> None:
        self.base_url, self.repository, self.admin_email = base_url, repository, admin_email
        self._records, self._get, self.domain = records, get, domain

    def identifier(self, doi: str) -> str:
        return f"oai:{self.domain}:{doi}"

    def answer(self, args: dict[str, str], now: datetime) -> str:
        root = ET.Element(f"{{{OAI}}}OAI-PMH", {f"{{{XSI}}}schemaLocation":
                                                f"{OAI} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"})
        ET.SubElement(root, f"{{{OAI}}}responseDate").text = _stamp(now)
        verb = args.get("verb", "")
        request = ET.SubElement(root, f"{{{OAI}}}request", {k: v for k, v in args.items()
                                                             if verb and k in ("verb", "identifier", "metadataPrefix",
                                                                               "resumptionToken")})
        request.text = self.base_url
        handler = {"Identify": self._identify, "ListMetadataFormats": self._formats, "ListRecords": self._list,
                   "ListIdentifiers": self._list, "GetRecord": self._get_record, "ListSets": self._sets}.get(verb)
        if handler is None:
            self._error(root, "badVerb", f"unknown verb {verb!r}" if verb else "no verb")
        else:
            handler(root, args)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")

    def _error(self, root: ET.Element, code: str, text: str) -> None:
        ET.SubElement(root, f"{{{OAI}}}error", {"code": code}).text = text

    def _identify(self, root: ET.Element, args: dict[str, str]) -> None:
        node = ET.SubElement(root, f"{{{OAI}}}Identify")
        first = self._records(0, 1)
        for tag, text in (("repositoryName", self.repository), ("baseURL", self.base_url),
                          ("protocolVersion", "2.0"), ("adminEmail", self.admin_email),
                          ("earliestDatestamp", _stamp(first[0].get("registeredTime") if first else None)),
                          ("deletedRecord", "no"), ("granularity", "YYYY-MM-DDThh:mm:ssZ")):
            ET.SubElement(node, f"{{{OAI}}}{tag}").text = text

    def _formats(self, root: ET.Element, args: dict[str, str]) -> None:
        node = ET.SubElement(root, f"{{{OAI}}}ListMetadataFormats")
        for prefix, (schema, namespace) in FORMATS.items():
            fmt = ET.SubElement(node, f"{{{OAI}}}metadataFormat")
            for tag, text in (("metadataPrefix", prefix), ("schema", schema), ("metadataNamespace", namespace)):
                ET.SubElement(fmt, f"{{{OAI}}}{tag}").text = text

    def _sets(self, root: ET.Element, args: dict[str, str]) -> None:
        self._error(root, "noSetHierarchy", "this repository has no sets")

    def _list(self, root: ET.Element, args: dict[str, str]) -> None:
        token = args.get("resumptionToken")
        prefix, skip = (token.split(":", 1) if token and ":" in token else (args.get("metadataPrefix", ""), "0"))
        if prefix not in FORMATS:
            self._error(root, "cannotDisseminateFormat" if prefix else "badArgument",
                        f"metadataPrefix must be one of {', '.join(FORMATS)}")
            return
        if not skip.isdigit():
            self._error(root, "badResumptionToken", "not a token this repository gave")
            return
        docs = self._records(int(skip), PAGE + 1)
        if not docs:
            self._error(root, "noRecordsMatch", "nothing is published yet")
            return
        node = ET.SubElement(root, f"{{{OAI}}}{args['verb']}")
        for doc in docs[:PAGE]:
            if args["verb"] == "ListIdentifiers":
                self._header(node, doc)
            else:
                self._record(node, doc, prefix)
        ET.SubElement(node, f"{{{OAI}}}resumptionToken").text = f"{prefix}:{int(skip) + PAGE}" if len(docs) > PAGE else ""

    def _get_record(self, root: ET.Element, args: dict[str, str]) -> None:
        prefix, identifier = args.get("metadataPrefix", ""), args.get("identifier", "")
        if prefix not in FORMATS or not identifier:
            self._error(root, "badArgument" if not identifier else "cannotDisseminateFormat",
                        "GetRecord needs identifier and metadataPrefix (oai_dc or oai_datacite)")
            return
        doi = identifier.removeprefix(f"oai:{self.domain}:")
        doc = self._get(doi)
        if doc is None:
            self._error(root, "idDoesNotExist", f"no published record {identifier!r}")
            return
        self._record(ET.SubElement(root, f"{{{OAI}}}GetRecord"), doc, prefix)

    def _header(self, parent: ET.Element, doc: dict[str, Any]) -> None:
        header = ET.SubElement(parent, f"{{{OAI}}}header")
        ET.SubElement(header, f"{{{OAI}}}identifier").text = self.identifier(doc["doi"])
        ET.SubElement(header, f"{{{OAI}}}datestamp").text = _stamp(doc.get("registeredTime"))

    def _record(self, parent: ET.Element, doc: dict[str, Any], prefix: str) -> None:
        record = ET.SubElement(parent, f"{{{OAI}}}record")
        self._header(record, doc)
        metadata = ET.SubElement(record, f"{{{OAI}}}metadata")
        attributes = doc.get("metadata", {}).get("datacite", {})
        if prefix == "oai_datacite":
            # Parses our own output (the datacite package's serialisation), not input from outside.
            metadata.append(ET.fromstring(schema45.tostring(attributes).encode()))  # noqa: S314
            return
        dc = ET.SubElement(metadata, f"{{{OAI_DC}}}dc", {f"{{{XSI}}}schemaLocation":
                                                         f"{OAI_DC} http://www.openarchives.org/OAI/2.0/oai_dc.xsd"})
        values = [("title", doc["title"]), ("description", doc["abstract"]),
                  ("identifier", f"https://doi.org/{doc['doi']}"), ("type", "Dataset"),
                  ("publisher", attributes.get("publisher", {}).get("name", "")),
                  ("date", str(attributes.get("publicationYear", "")))]
        values += [("creator", c["name"]) for c in attributes.get("creators", [])]
        values += [("subject", s["subject"]) for s in attributes.get("subjects", [])]
        values += [("rights", r.get("rightsUri", r.get("rights", ""))) for r in attributes.get("rightsList", [])]
        for tag, text in values:
            ET.SubElement(dc, f"{{{DC}}}{tag}").text = text

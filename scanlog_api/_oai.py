"""OAI-PMH 2.0 over the registered publications, as harvesters read it.

Formats: ``oai_dc`` (required by the protocol), ``oai_datacite`` (DataCite's OAI schema 1.1:
``<oai_datacite>`` with ``schemaVersion``, ``datacentreSymbol`` and the kernel-4 ``resource``
in ``payload``, as DataCite's own provider and Invenio serve it) and ``datacite`` (the bare
kernel-4 ``resource``). The protocol, section by section:

- 3.1.1: GET and POST (form-encoded) both answer; an OAI error is an HTTP 200.
- 3.2: after ``badVerb`` or ``badArgument`` the ``request`` element carries the base URL
  only; otherwise the request's (valid) arguments as attributes.
- 3.3: datestamps are the publication's ``updatedAt`` (set at registration and at every
  amendment: the time its metadata last changed), to the second. Identify says
  ``YYYY-MM-DDThh:mm:ssZ``, so ``from``/``until`` are accepted to the day and to the second
  (both the same granularity, ``from`` not after ``until``), both inclusive of the datestamp.
- 3.5: a list is cut into pages of :data:`PAGE`; the resumption token is a cursor
  (the last record's ``updatedAt`` and ``_id``) plus the request's arguments, not an offset:
  a record amended mid-harvest moves behind the cursor and is delivered again, and none is
  skipped, which an offset over a list ordered by datestamp would do. The token is opaque
  to harvesters (base64 of a small JSON), bounded in length and checked field by field; it
  carries no secret, since it only names a position in lists anyone may read, so nothing
  needs signing and a token stays valid across restarts and replicas.
- 3.6: every argument problem is a ``badArgument`` (illegal, repeated, missing, ill-formed),
  a missing, illegal or repeated ``verb`` is ``badVerb``, any token we did not give is
  ``badResumptionToken``; messages quote at most a short piece of what was sent.
- Text: characters XML 1.0 forbids (most C0 controls, U+FFFE/U+FFFF, lone surrogates) are
  replaced by U+FFFD in every text node and attribute, in the stored document before the
  DataCite serialiser sees it (lxml refuses them) and in the whole response tree.

Our own serialiser over the standard library's ElementTree, not a server library: the
maintained fork of pyoai (``oaipmh`` 4.0.0 on PyPI, ETH Library) was checked. Its
resumption tokens are the URL-encoded request arguments plus an offset, decoded without
validation and passed back as keyword arguments (an unknown key or a bad date in a token
escapes its error funnel as a 500), its datestamps must be naive datetimes, lxml raises on
control characters, and its offset paging skips records that move in the list. Wrapping it
would mean replacing its tokens, dates, argument checks and error handling: most of it.
``oai_repo`` (MSU) has the same offset tokens and pulls in four more dependencies.
"""

from __future__ import annotations

import base64
import binascii
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from datacite import schema45
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._publish import _PUBLIC

OAI = "http://www.openarchives.org/OAI/2.0/"
DC = "http://purl.org/dc/elements/1.1/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
OAI_DATACITE = "http://schema.datacite.org/oai/oai-1.1/"
DATACITE = "http://datacite.org/schema/kernel-4"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
#: Records (or headers) in one response; the rest follow a resumption token.
PAGE = 100
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
#: The DataCite kernel our metadata is written and validated in (``datacite.schema45``).
KERNEL_VERSION = "4.5"
FORMATS = {
    "oai_dc": ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC),
    "oai_datacite": ("http://schema.datacite.org/oai/oai-1.1/oai.xsd", OAI_DATACITE),
    "datacite": ("http://schema.datacite.org/meta/kernel-4.5/metadata.xsd", DATACITE),
}
_DATACITE_FORMATS = ("oai_datacite", "datacite")
for _prefix, _uri in (("", OAI), ("dc", DC), ("oai_dc", OAI_DC), ("xsi", XSI)):
    ET.register_namespace(_prefix, _uri)

#: verb -> (required, optional, exclusive) arguments besides ``verb`` (section 4).
_ARGUMENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str | None]] = {
    "Identify": ((), (), None),
    "ListMetadataFormats": ((), ("identifier",), None),
    "ListSets": ((), (), "resumptionToken"),
    "GetRecord": (("identifier", "metadataPrefix"), (), None),
    "ListIdentifiers": (("metadataPrefix",), ("from", "until", "set"), "resumptionToken"),
    "ListRecords": (("metadataPrefix",), ("from", "until", "set"), "resumptionToken"),
}
#: Far more than any legal request has; a value longer than any identifier or token we make.
MAX_ARGUMENTS = 16
MAX_VALUE = 2048
MAX_TOKEN = 1024
_PREFIX_SYNTAX = re.compile(r"[A-Za-z0-9\-_.!~*'()]+")
_SET_SYNTAX = re.compile(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*")
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_SECOND = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z")
_TOKEN_SYNTAX = re.compile(r"[A-Za-z0-9_-]+")
#: What XML 1.0 does not allow in a document (its production ``Char``), one match per character.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_LAST_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - _EPOCH) // _MS


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids replaced by U+FFFD (never dropped unseen)."""
    return _NOT_XML.sub("\ufffd", text)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return xml_safe(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _clean_tree(root: ET.Element) -> None:
    for node in root.iter():
        if node.text:
            node.text = xml_safe(node.text)
        if node.tail:
            node.tail = xml_safe(node.tail)
        for key, val in node.attrib.items():
            node.attrib[key] = xml_safe(val)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _stamp(value: datetime) -> str:
    return _aware(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quote(value: str) -> str:
    """A piece of what the harvester sent, short enough for a message."""
    return repr(value if len(value) <= 60 else value[:60] + "...")


class _OaiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class _Token(BaseModel):
    """What a resumption token holds: the list's arguments and where the last page ended."""

    model_config = ConfigDict(extra="forbid", strict=True)

    v: Literal[1]
    verb: Literal["ListIdentifiers", "ListRecords"]
    prefix: Annotated[str, Field(max_length=32)]
    #: ``updatedAt`` bounds in ms since the epoch, from inclusive, until exclusive.
    since: Annotated[int, Field(ge=0, le=_LAST_MS)] | None
    before: Annotated[int, Field(ge=0, le=_LAST_MS)] | None
    #: The last record delivered: its ``updatedAt`` (ms) and ``_id``.
    at: Annotated[int, Field(ge=0, le=_LAST_MS)]
    after: Annotated[str, Field(min_length=1, max_length=600)]
    #: Records delivered before the next page (the ``cursor`` attribute).
    cursor: Annotated[int, Field(ge=1, le=10**9)]

    def encode(self) -> str:
        return base64.urlsafe_b64encode(self.model_dump_json().encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, verb: str) -> _Token:
        refused = _OaiError("badResumptionToken", "this resumption token was not given by this repository, or was changed")
        if not 0 < len(text) <= MAX_TOKEN or not _TOKEN_SYNTAX.fullmatch(text):
            raise refused
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            token = cls.model_validate_json(raw)
        except (binascii.Error, ValueError, ValidationError) as err:
            raise refused from err
        if token.verb != verb or token.prefix not in FORMATS:
            raise refused
        return token


def _ms(value: datetime) -> int:
    return (_aware(value) - _EPOCH) // _MS


def _from_ms(value: int) -> datetime:
    return _EPOCH + value * _MS


def _datestamp(name: str, value: str) -> tuple[datetime, timedelta]:
    """A ``from``/``until`` value: its start and its granularity (a day or a second)."""
    day, second = _DAY.fullmatch(value), _SECOND.fullmatch(value)
    match = day or second
    if match is None:
        raise _OaiError("badArgument", f"{name} must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ (UTC), not {_quote(value)}")
    try:
        parts = [int(g) for g in match.groups()] + [0, 0, 0]
        start = datetime(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], tzinfo=UTC)
    except ValueError as err:
        raise _OaiError("badArgument", f"{name} is not a date: {_quote(value)}") from err
    return start, (timedelta(days=1) if day else timedelta(seconds=1))


class OaiProvider:
    """Answers OAI-PMH requests over the ``PublishedData`` collection ``collection()`` gives.

    Parameters
    ----------
    base_url, repository, admin_email
        What Identify says.
    collection
        The store's ``PublishedData`` collection (read only: registered and amended ones).
    domain
        The ``oai:<domain>:<doi>`` identifiers' domain.
    datacentre
        The DataCite repository (datacentre) symbol, named in ``oai_datacite``.
    """

    def __init__(self, base_url: str, repository: str, admin_email: str, collection: Callable[[], Any],
                 domain: str, datacentre: str) -> None:
        self.base_url, self.repository, self.admin_email = base_url, repository, admin_email
        self._collection, self.domain, self.datacentre = collection, domain, datacentre

    def identifier(self, doi: str) -> str:
        return f"oai:{self.domain}:{doi}"

    # --- the request --------------------------------------------------------------------

    def answer(self, pairs: Sequence[tuple[str, str]], now: datetime) -> str:
        """The XML answer to one request's arguments, in the order sent (repeats kept)."""
        root = ET.Element(f"{{{OAI}}}OAI-PMH", {f"{{{XSI}}}schemaLocation":
                                                f"{OAI} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"})
        ET.SubElement(root, f"{{{OAI}}}responseDate").text = _stamp(now)
        request = ET.SubElement(root, f"{{{OAI}}}request")
        request.text = self.base_url
        try:
            verb, args = self._arguments(pairs)
            # Only arguments that passed the checks are echoed (3.2).
            request.attrib.update({"verb": verb, **args})
            getattr(self, f"_{verb}")(root, args)
        except _OaiError as err:
            for node in list(root)[2:]:
                root.remove(node)
            ET.SubElement(root, f"{{{OAI}}}error", {"code": err.code}).text = str(err)
        _clean_tree(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")

    def _arguments(self, pairs: Sequence[tuple[str, str]]) -> tuple[str, dict[str, str]]:
        verbs = [v for k, v in pairs if k == "verb"]
        if len(verbs) != 1 or verbs[0] not in _ARGUMENTS:
            reason = ("no verb" if not verbs else "the verb is repeated" if len(verbs) > 1
                      else f"{_quote(verbs[0])} is not an OAI-PMH verb")
            raise _OaiError("badVerb", f"{reason}; the verbs are {', '.join(_ARGUMENTS)}")
        verb = verbs[0]
        required, optional, exclusive = _ARGUMENTS[verb]
        allowed = {*required, *optional, *([exclusive] if exclusive else [])}
        given = [(k, v) for k, v in pairs if k != "verb"]
        problems: list[str] = []
        if len(pairs) > MAX_ARGUMENTS:
            problems.append(f"more than {MAX_ARGUMENTS} arguments")
        counts = Counter(k for k, _ in given)
        problems += [f"{_quote(k)} is not an argument of {verb}" for k in counts if k not in allowed]
        problems += [f"{k} is repeated" for k, n in counts.items() if n > 1 and k in allowed]
        # A token we did not give is badResumptionToken, whatever its length (the token bounds its own).
        problems += [f"{k} is longer than {MAX_VALUE} characters" for k, v in given
                     if k in allowed and k != "resumptionToken" and len(v) > MAX_VALUE]
        problems += [f"{k} is empty" for k, v in given if k in allowed and not v]
        args = {k: v for k, v in given if k in allowed}
        if exclusive and exclusive in args:
            if len(counts) > 1:
                problems.append(f"{exclusive} is exclusive: no other argument besides verb")
        else:
            problems += [f"{verb} needs {k}" for k in required if k not in args]
        if not problems:
            problems += self._syntax(args)
        if problems:
            raise _OaiError("badArgument", "; ".join(problems[:5]))
        return verb, args

    @staticmethod
    def _syntax(args: dict[str, str]) -> list[str]:
        problems = []
        if "metadataPrefix" in args and not _PREFIX_SYNTAX.fullmatch(args["metadataPrefix"]):
            problems.append(f"metadataPrefix {_quote(args['metadataPrefix'])} is not a metadata prefix")
        if "set" in args and not _SET_SYNTAX.fullmatch(args["set"]):
            problems.append(f"set {_quote(args['set'])} is not a setSpec")
        try:
            bounds = {name: _datestamp(name, args[name]) for name in ("from", "until") if name in args}
        except _OaiError as err:
            return [*problems, str(err)]
        if len(bounds) == 2:
            (since, since_unit), (until, until_unit) = bounds["from"], bounds["until"]
            if since_unit != until_unit:
                problems.append("from and until must have the same granularity")
            elif since > until:
                problems.append("from is later than until")
        return problems

    # --- the verbs ------------------------------------------------------------------------

    def _public(self) -> dict[str, Any]:
        return {"status": {"$in": list(_PUBLIC)}}

    def _find(self, identifier: str) -> dict[str, Any]:
        doi = identifier.removeprefix(f"oai:{self.domain}:")
        doc: dict[str, Any] | None = None
        if doi != identifier:
            doc = self._collection().find_one({"_id": doi, **self._public()})
        if doc is None:
            raise _OaiError("idDoesNotExist", f"no published record {_quote(identifier)} in this repository")
        return doc

    def _Identify(self, root: ET.Element, args: dict[str, str]) -> None:  # noqa: N802 (the verb's name)
        node = ET.SubElement(root, f"{{{OAI}}}Identify")
        first = list(self._collection().find(self._public(), {"updatedAt": 1}).sort("updatedAt", 1).limit(1))
        earliest = first[0]["updatedAt"] if first and first[0].get("updatedAt") else _EPOCH
        for tag, text in (("repositoryName", self.repository), ("baseURL", self.base_url),
                          ("protocolVersion", "2.0"), ("adminEmail", self.admin_email),
                          ("earliestDatestamp", _stamp(earliest)), ("deletedRecord", "no"),
                          ("granularity", GRANULARITY)):
            ET.SubElement(node, f"{{{OAI}}}{tag}").text = text

    def _ListMetadataFormats(self, root: ET.Element, args: dict[str, str]) -> None:  # noqa: N802
        formats = list(FORMATS)
        if "identifier" in args:
            doc = self._find(args["identifier"])
            formats = [p for p in formats if p not in _DATACITE_FORMATS or _datacite_of(doc) is not None]
        node = ET.SubElement(root, f"{{{OAI}}}ListMetadataFormats")
        for prefix in formats:
            schema, namespace = FORMATS[prefix]
            fmt = ET.SubElement(node, f"{{{OAI}}}metadataFormat")
            for tag, text in (("metadataPrefix", prefix), ("schema", schema), ("metadataNamespace", namespace)):
                ET.SubElement(fmt, f"{{{OAI}}}{tag}").text = text

    def _ListSets(self, root: ET.Element, args: dict[str, str]) -> None:  # noqa: N802
        if "resumptionToken" in args:
            raise _OaiError("badResumptionToken", "this repository has no sets, and so gives no ListSets tokens")
        raise _OaiError("noSetHierarchy", "this repository has no sets")

    def _GetRecord(self, root: ET.Element, args: dict[str, str]) -> None:  # noqa: N802
        prefix = args["metadataPrefix"]
        if prefix not in FORMATS:
            raise _OaiError("cannotDisseminateFormat", f"metadataPrefix must be one of {', '.join(FORMATS)}")
        doc = self._find(args["identifier"])
        if prefix in _DATACITE_FORMATS and _datacite_of(doc) is None:
            raise _OaiError("cannotDisseminateFormat", "this record has no DataCite metadata; ask for oai_dc")
        self._record(ET.SubElement(root, f"{{{OAI}}}GetRecord"), doc, prefix)

    def _ListIdentifiers(self, root: ET.Element, args: dict[str, str]) -> None:  # noqa: N802
        self._list(root, "ListIdentifiers", args)

    def _ListRecords(self, root: ET.Element, args: dict[str, str]) -> None:  # noqa: N802
        self._list(root, "ListRecords", args)

    def _list(self, root: ET.Element, verb: Literal["ListIdentifiers", "ListRecords"], args: dict[str, str]) -> None:
        if "resumptionToken" in args:
            token = _Token.decode(args["resumptionToken"], verb)
            prefix, since, before = token.prefix, token.since, token.before
            position: tuple[int, str] | None = (token.at, token.after)
            delivered = token.cursor
        else:
            prefix, position, delivered = args["metadataPrefix"], None, 0
            if prefix not in FORMATS:
                raise _OaiError("cannotDisseminateFormat", f"metadataPrefix must be one of {', '.join(FORMATS)}")
            if "set" in args:
                raise _OaiError("noSetHierarchy", "this repository has no sets")
            since = before = None
            if "from" in args:
                since = _ms(_datestamp("from", args["from"])[0])
            if "until" in args:
                start, unit = _datestamp("until", args["until"])
                before = _ms(start + unit)  # a datestamp is to the second: all of that second or day
        docs = self._page(prefix, since, before, position)
        if not docs:
            raise _OaiError("noRecordsMatch", "no published record matches" if position is None
                            else "no records remain in this list")
        node = ET.SubElement(root, f"{{{OAI}}}{verb}")
        for doc in docs[:PAGE]:
            if verb == "ListIdentifiers":
                self._header(node, doc)
            else:
                self._record(node, doc, prefix)
        if len(docs) > PAGE:
            last = docs[PAGE - 1]
            following = _Token(v=1, verb=verb, prefix=prefix, since=since, before=before, at=_ms(last["updatedAt"]),
                                after=str(last["_id"]), cursor=delivered + PAGE)
            ET.SubElement(node, f"{{{OAI}}}resumptionToken", {"cursor": str(delivered)}).text = following.encode()
        elif position is not None:
            # The last page of a list that was cut: an empty token says it is complete (3.5).
            ET.SubElement(node, f"{{{OAI}}}resumptionToken", {"cursor": str(delivered)})

    def _page(self, prefix: str, since: int | None, before: int | None,
              position: tuple[int, str] | None) -> list[dict[str, Any]]:
        """The next page (and one more, to know whether a token is needed), by datestamp then _id."""
        conditions: list[dict[str, Any]] = [self._public()]
        if prefix in _DATACITE_FORMATS:
            conditions.append({"metadata.datacite": {"$exists": True}})
        window: dict[str, datetime] = {}
        if since is not None:
            window["$gte"] = _from_ms(since)
        if before is not None:
            window["$lt"] = _from_ms(before)
        if window:
            conditions.append({"updatedAt": window})
        if position is not None:
            at, after = _from_ms(position[0]), position[1]
            conditions.append({"$or": [{"updatedAt": {"$gt": at}}, {"updatedAt": at, "_id": {"$gt": after}}]})
        cursor = self._collection().find({"$and": conditions}).sort([("updatedAt", 1), ("_id", 1)]).limit(PAGE + 1)
        return list(cursor)

    # --- records --------------------------------------------------------------------------

    def _header(self, parent: ET.Element, doc: dict[str, Any]) -> None:
        header = ET.SubElement(parent, f"{{{OAI}}}header")
        ET.SubElement(header, f"{{{OAI}}}identifier").text = self.identifier(str(doc["_id"]))
        ET.SubElement(header, f"{{{OAI}}}datestamp").text = _stamp(doc["updatedAt"])

    def _record(self, parent: ET.Element, doc: dict[str, Any], prefix: str) -> None:
        record = ET.SubElement(parent, f"{{{OAI}}}record")
        self._header(record, doc)
        metadata = ET.SubElement(record, f"{{{OAI}}}metadata")
        attributes = _clean(_datacite_of(doc) or {})
        if prefix in _DATACITE_FORMATS:
            # Parses our own output (the datacite package's serialisation of cleaned text), not input from outside.
            resource = ET.fromstring(schema45.tostring(attributes).encode())  # noqa: S314
            if prefix == "datacite":
                metadata.append(resource)
                return
            envelope = ET.SubElement(metadata, f"{{{OAI_DATACITE}}}oai_datacite", {
                f"{{{XSI}}}schemaLocation": f"{OAI_DATACITE} {FORMATS['oai_datacite'][0]}"})
            ET.SubElement(envelope, f"{{{OAI_DATACITE}}}schemaVersion").text = KERNEL_VERSION
            ET.SubElement(envelope, f"{{{OAI_DATACITE}}}datacentreSymbol").text = self.datacentre
            ET.SubElement(envelope, f"{{{OAI_DATACITE}}}payload").append(resource)
            return
        dc = ET.SubElement(metadata, f"{{{OAI_DC}}}dc", {f"{{{XSI}}}schemaLocation": f"{OAI_DC} {FORMATS['oai_dc'][0]}"})
        values = [("title", doc.get("title")), ("description", doc.get("abstract")),
                  ("identifier", f"https://doi.org/{doc['_id']}"), ("type", "Dataset"),
                  ("publisher", (attributes.get("publisher") or {}).get("name")),
                  ("date", attributes.get("publicationYear"))]
        values += [("creator", c.get("name")) for c in attributes.get("creators", [])]
        values += [("subject", s.get("subject")) for s in attributes.get("subjects", [])]
        values += [("rights", r.get("rightsUri") or r.get("rights")) for r in attributes.get("rightsList", [])]
        for tag, text in values:
            if text:
                ET.SubElement(dc, f"{{{DC}}}{tag}").text = str(text)


def _datacite_of(doc: dict[str, Any]) -> dict[str, Any] | None:
    found = (doc.get("metadata") or {}).get("datacite")
    return found if isinstance(found, dict) and found else None

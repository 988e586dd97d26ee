"""Publishing: what a researcher fills in, the SciCat ``PublishedData`` document, and its
DataCite kernel-4 metadata (pure builders; the datacite package validates and sends them).

SciCat's ``PublishedData`` (src/published-data/schemas/published-data.schema.ts at
scicat-backend-next 4055c96; tests/system/test_scicat_shapes.py checks ours against it):
``_id`` = ``doi``, ``title``, ``abstract``, ``datasetPids``, ``status`` (private -> public ->
registered -> amended), DataCite fields under ``metadata``, ``registeredTime``,
``numberOfFiles``, ``sizeOfArchive``, and the audit fields (``createdBy``, ...). It has no
ownership fields (the backend lets a private one be changed by its ``createdBy``): our
``ownerGroup``/``accessGroups`` are scizoo's own, which the backend ignores and returns as stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

Status = Literal["private", "public", "registered", "amended"]
RELATION_TYPES = ("IsCitedBy", "Cites", "IsSupplementTo", "IsSupplementedBy", "IsDocumentedBy", "Documents",
                  "IsDerivedFrom", "IsSourceOf", "References", "IsReferencedBy", "IsPartOf", "HasPart")
Relation = Literal["IsCitedBy", "Cites", "IsSupplementTo", "IsSupplementedBy", "IsDocumentedBy", "Documents",
                   "IsDerivedFrom", "IsSourceOf", "References", "IsReferencedBy", "IsPartOf", "HasPart"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Creator(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=300, description="Family, Given")]
    orcid: Annotated[str, Field(pattern=r"^(\d{4}-\d{4}-\d{4}-\d{3}[\dX])?$")] = ""
    affiliation: Annotated[str, Field(max_length=300)] = ""


class RelatedWork(_Strict):
    identifier: Annotated[str, Field(min_length=1, max_length=500)]
    identifier_type: Literal["DOI", "URL"] = "DOI"
    relation_type: Relation = "IsSupplementTo"


class Funding(_Strict):
    funder_name: Annotated[str, Field(min_length=1, max_length=300)]
    award_number: Annotated[str, Field(max_length=100)] = ""


class PublicationIn(_Strict):
    """What a researcher says about the datasets they publish."""

    title: Annotated[str, Field(min_length=1, max_length=500)]
    abstract: Annotated[str, Field(min_length=1, max_length=10_000)]
    creators: Annotated[list[Creator], Field(min_length=1, max_length=200)]
    publisher: Annotated[str, Field(min_length=1, max_length=300)]
    publication_year: Annotated[int, Field(ge=1900, le=2999)]
    resource_type: Annotated[str, Field(min_length=1, max_length=100)] = "Dataset"
    subjects: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(max_length=50)] = []
    related: Annotated[list[RelatedWork], Field(max_length=50)] = []
    license: Annotated[str, Field(max_length=100, description="An SPDX identifier, e.g. CC-BY-4.0.")] = "CC-BY-4.0"
    funding: Annotated[list[Funding], Field(max_length=50)] = []
    dataset_pids: Annotated[list[str], Field(min_length=1, max_length=1000)]
    embargo_until: Annotated[AwareDatetime | None, Field(description=(
        "The datasets (their files) become public at this time; the DOI and the landing page are public "
        "once registered. None: public when registered."))] = None

    @field_validator("embargo_until", mode="before")
    @classmethod
    def _a_day_is_its_start(cls, value: Any) -> Any:
        # A day alone (a date input, a YAML date) is the start of that day in UTC, as DataCite's
        # Available date of that day reads.
        if isinstance(value, str) and len(value) == 10:
            try:
                value = date.fromisoformat(value)
            except ValueError:
                return value  # pydantic says what is wrong with it
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        return value

    @field_validator("embargo_until")
    @classmethod
    def _whole_seconds(cls, value: datetime | None) -> datetime | None:
        # The store keeps milliseconds and DataCite seconds: a date sent again compares equal.
        return value.replace(microsecond=0) if value is not None else None


class PublishedDataDocument(_Strict):
    """A PublishedData document as the SciCat backend itself keeps it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: Annotated[str, Field(alias="_id")]
    doi: Annotated[str, Field(min_length=3)]
    title: str
    abstract: str
    datasetPids: list[str]
    status: Status = "private"
    metadata: dict[str, Any] = {}
    registeredTime: AwareDatetime | None = None
    embargoUntil: Annotated[AwareDatetime | None, Field(description=(
        "scizoo's own: the datasets are made public at this time (by the release job), not at registration."))] = None
    releasedTime: Annotated[AwareDatetime | None, Field(description=(
        "scizoo's own: when the datasets were made public; None while registered under embargo."))] = None
    numberOfFiles: int = 0
    sizeOfArchive: int = 0
    ownerGroup: Annotated[str, Field(description="scizoo's own (the backend has none): who may change it.")]
    accessGroups: Annotated[list[str], Field(description="scizoo's own, read with ownerGroup.")] = []
    createdBy: str
    updatedBy: str
    createdAt: AwareDatetime
    updatedAt: AwareDatetime

    def to_mongo(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


def _spdx_url(license_id: str) -> str:
    return f"https://spdx.org/licenses/{license_id}.html"


def datacite_date(when: datetime) -> str:
    """A time as DataCite's dates take it (W3C-DTF): the day alone when it is midnight UTC."""
    when = when.astimezone(UTC)
    if when == when.replace(hour=0, minute=0, second=0, microsecond=0):
        return when.date().isoformat()
    return when.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def content_attributes(files: int, size: int, formats: Iterable[str]) -> dict[str, list[str]]:
    """DataCite's ``sizes`` and ``formats`` of a publication's files (free text, and the files'
    extensions: what DataCite suggests where no media type is known)."""
    return {"sizes": [f"{files} files", f"{size} bytes"], "formats": sorted({f for f in formats if f})}


def datacite_attributes(pub: PublicationIn, doi: str, url: str,
                        content: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The DataCite kernel-4.5 JSON of a publication (what ``datacite.schema45`` validates).

    An embargo is a ``dates`` entry of type ``Available``: DataCite's way to say when a
    resource becomes publicly available, the end of its embargo.
    """
    related = [{"relatedIdentifier": r.identifier, "relatedIdentifierType": r.identifier_type,
                "relationType": r.relation_type} for r in pub.related]
    return {
        "doi": doi,
        "url": url,
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": pub.resource_type},
        "titles": [{"title": pub.title}],
        "descriptions": [{"description": pub.abstract, "descriptionType": "Abstract"}],
        "creators": [
            {"name": c.name, "nameType": "Personal",
             **({"nameIdentifiers": [{"nameIdentifier": f"https://orcid.org/{c.orcid}", "nameIdentifierScheme": "ORCID",
                                      "schemeUri": "https://orcid.org"}]} if c.orcid else {}),
             **({"affiliation": [{"name": c.affiliation}]} if c.affiliation else {})}
            for c in pub.creators
        ],
        "publisher": {"name": pub.publisher},
        "publicationYear": str(pub.publication_year),
        "subjects": [{"subject": s} for s in pub.subjects],
        "relatedIdentifiers": related,
        "rightsList": [{"rights": pub.license, "rightsUri": _spdx_url(pub.license), "rightsIdentifier": pub.license,
                        "rightsIdentifierScheme": "SPDX"}] if pub.license else [],
        "fundingReferences": [{"funderName": f.funder_name, **({"awardNumber": f.award_number} if f.award_number else {})}
                              for f in pub.funding],
        "dates": [{"date": datacite_date(pub.embargo_until), "dateType": "Available",
                   "dateInformation": "end of the embargo: the files are public from this date"}]
        if pub.embargo_until else [],
        **(content or {}),  # sizes and formats (content_attributes)
        "schemaVersion": "http://datacite.org/schema/kernel-4",
    }


#: The DataCite properties SciCat v4 keeps at the top of PublishedData's ``metadata`` (its
#: ``publishedDataConfig`` metadataSchema requires creators, publisher, publicationYear and
#: resourceType; its DataCite registration and frontend read them there). Title and abstract
#: are the document's own fields, and the backend adds the abstract to ``descriptions`` itself.
SCICAT_METADATA_FIELDS = ("creators", "publisher", "subjects", "relatedIdentifiers", "rightsList",
                          "fundingReferences", "dates")


def published_metadata(pub: PublicationIn, doi: str, url: str,
                       content: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """A PublishedData's ``metadata``: the DataCite properties where SciCat reads them, plus
    scizoo's own ``datacite`` (the kernel-4.5 JSON sent to DataCite) and ``scizoo_form``."""
    attributes = datacite_attributes(pub, doi, url, content)
    return {
        **{name: attributes[name] for name in SCICAT_METADATA_FIELDS},
        "publicationYear": pub.publication_year,  # a number in SciCat's schema, a string in DataCite's
        "resourceType": pub.resource_type,
        "scizoo_form": pub.model_dump(mode="json"),
        "datacite": attributes,
    }


def build_published_data(pub: PublicationIn, *, doi: str, owner_group: str, files: int, size: int, user: str,
                         now: datetime, landing_url: str, formats: Iterable[str] = ()) -> PublishedDataDocument:
    """A new, private PublishedData document for ``pub``."""
    return PublishedDataDocument(
        id=doi, doi=doi, title=pub.title, abstract=pub.abstract, datasetPids=list(pub.dataset_pids),
        metadata=published_metadata(pub, doi, landing_url, content_attributes(files, size, formats)),
        numberOfFiles=files, sizeOfArchive=size, ownerGroup=owner_group, createdBy=user, updatedBy=user,
        createdAt=now, updatedAt=now, embargoUntil=pub.embargo_until,
    )

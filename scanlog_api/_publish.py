"""Publishing: carts, PublishedData, and registration with DataCite that never half-publishes.

SciCat flags the datasets as published before DataCite answers. Here the order is:

1. the metadata is validated against DataCite's kernel-4.5 schema (the datacite package)
   before anything is sent;
2. a draft DOI is created (a retry that finds it already there goes on);
3. the draft is published at DataCite (``event: publish`` with the landing page's URL);
4. only then are the datasets marked ``isPublished`` with ``datasetlifecycle.publishedOn``,
   and the publication becomes ``registered``. Under an embargo (``embargoUntil``), the DOI and
   the landing page are public now and the datasets only get ``datasetlifecycle.dateOfPublishing``:
   the release job (:mod:`scanlog_api._release`) makes them public at that time.

A failure at 2 or 3 leaves the publication and its datasets as they were, with the error
kept on it (``registration``) and shown; registering again resumes. A failure at 4 (the
store) is resumed the same way: DataCite has it, so the datasets are marked on the retry.

A DOI that may exist at DataCite is never deleted here. Before the first call to DataCite
the publication notes that it was sent; from then on, deleting it asks DataCite first
(:meth:`Publisher.delete`): a DOI DataCite has made findable is forever (the deletion is
refused, and a register completes it), a draft is deleted there first, and when DataCite
cannot be asked nothing is deleted. A timeout is not a "no".
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests
from datacite import DataCiteRESTClient, schema45
from datacite.errors import DataCiteError, HttpError
from pydantic import SecretStr

from scizoo.core import (
    PublicationIn,
    build_published_data,
    content_attributes,
    datacite_attributes,
    published_metadata,
)
from scizoo.web import TokenUser

from ._access import can_write
from ._errors import Conflict, Forbidden, Invalid, NotFound, UpstreamFailed
from ._ports import ScanReads
from ._publications import PublicationStore
from ._release import ReleasePlan, Releaser
from ._table import jsonable

logger = logging.getLogger(__name__)

MAX_CART = 1000
#: How far a registration got (``registration.step``): nothing sent; sent (DataCite may
#: have the DOI, even if its answer never came); published there (only the datasets are left).
NOT_STARTED = "not started"
SENT_TO_DATACITE = "sent to DataCite"
PUBLISHED_AT_DATACITE = "published at DataCite"
_PUBLIC = ("registered", "amended")


class DataCite:
    """DataCite's REST API through the datacite package; every error becomes one readable sentence."""

    def __init__(self, url: str, username: str, password: SecretStr | None, prefix: str, timeout_s: float) -> None:
        self._client = DataCiteRESTClient(username=username, password=password.get_secret_value() if password else "",
                                          prefix=prefix, url=url, timeout=timeout_s)
        self._url = url.rstrip("/") + "/"
        self._auth = (username, password.get_secret_value() if password else "")
        self._timeout_s = timeout_s

    def _call(self, what: str, call: Any) -> Any:
        try:
            return call()
        except DataCiteError as err:
            raise UpstreamFailed(f"DataCite refused to {what}: {_datacite_reason(err)}") from err
        except (HttpError, requests.RequestException) as err:  # the package wraps requests' errors
            raise UpstreamFailed(f"DataCite could not be reached to {what} ({type(err).__name__}); "
                                 "nothing was published: try again") from err

    def draft(self, attributes: dict[str, Any]) -> None:
        doi = attributes["doi"]
        try:
            self._call("create the draft DOI", lambda: self._client.draft_doi(metadata=dict(attributes), doi=doi))
        except UpstreamFailed as err:
            if "already been taken" not in str(err):  # a retry: the draft exists
                raise

    def publish(self, attributes: dict[str, Any]) -> None:
        body = {"attributes": {**attributes, "event": "publish"}}
        self._call("publish the DOI", lambda: self._client.put_doi(attributes["doi"], body))

    def amend(self, attributes: dict[str, Any]) -> None:
        body = {"attributes": dict(attributes)}
        self._call("update the DOI's metadata", lambda: self._client.put_doi(attributes["doi"], body))

    def state(self, doi: str) -> str | None:
        """The DOI's state at DataCite (draft, registered, findable), or None when DataCite has
        no such DOI. Raises :class:`UpstreamFailed` when DataCite cannot be asked: unknown is
        not "none". (The datacite package's ``get_doi`` answers only the URL, so this asks the
        REST API's ``GET /dois/{id}`` directly.)"""
        what = f"say whether it has {doi}"
        try:
            answer = requests.get(self._url + "dois/" + quote(doi, safe="/"), auth=self._auth,
                                  timeout=self._timeout_s)
        except requests.RequestException as err:
            raise UpstreamFailed(f"DataCite could not be reached to {what} ({type(err).__name__})") from err
        if answer.status_code == 404:
            return None
        if answer.status_code != 200:
            raise UpstreamFailed(f"DataCite did not {what} (HTTP {answer.status_code})")
        try:
            return str(answer.json()["data"]["attributes"]["state"])
        except (ValueError, KeyError, TypeError) as err:
            raise UpstreamFailed(f"DataCite's answer did not {what}") from err

    def delete_draft(self, doi: str) -> None:
        self._call("delete the draft DOI", lambda: self._client.delete_doi(doi))


def _datacite_reason(err: DataCiteError) -> str:
    text = str(err.args[0]) if err.args else type(err).__name__
    try:
        import json

        errors = json.loads(text).get("errors", [])
        return "; ".join(f"{e.get('source', '')}: {e.get('title', '')}".strip(": ") for e in errors) or text[:300]
    except (ValueError, AttributeError):
        return text[:300]


def schema_problems(attributes: dict[str, Any]) -> list[str]:
    """What DataCite's kernel-4.5 schema says is wrong, if anything."""
    return [f"{'.'.join(map(str, e.absolute_path)) or 'metadata'}: {e.message}"
            for e in schema45.validator.iter_errors(attributes)]


class Publisher:
    """Carts and publications: who may (the scans' access rule, through the scan store), in
    the publications' store, registered through :class:`DataCite`."""

    def __init__(self, scans: ScanReads, publications: PublicationStore, datacite: DataCite, *, doi_prefix: str,
                 public_url: str, release_policy_years: int | None = None) -> None:
        self.scans = scans
        self.publications = publications
        self.datacite = datacite
        #: The release job's plan and its application (embargoes, the facility's policy).
        self.releaser = Releaser(publications, policy_years=release_policy_years)
        self.doi_prefix = doi_prefix.rstrip("/")
        self.public_url = public_url.rstrip("/")

    def landing_url(self, doi: str) -> str:
        return f"{self.public_url}/doi/{doi}"

    # --- the cart -------------------------------------------------------------

    def _writable(self, pids: list[str], user: TokenUser) -> list[dict[str, Any]]:
        docs = []
        for pid in pids:
            doc = self.scans.readable(pid, user)
            if not can_write(user, doc):
                raise Forbidden(f"only members of {doc.get('ownerGroup')!r} may publish dataset {pid!r}")
            docs.append(doc)
        return docs

    def cart(self, user: TokenUser) -> list[str]:
        return self.publications.cart(user.user)

    def add_to_cart(self, user: TokenUser, pids: list[str]) -> list[str]:
        self._writable(pids, user)
        now = [p for p in self.cart(user)]
        merged = now + [p for p in pids if p not in now]
        if len(merged) > MAX_CART:
            raise Invalid(f"a cart holds at most {MAX_CART} datasets")
        self.publications.set_cart(user.user, merged)
        return merged

    def remove_from_cart(self, user: TokenUser, pids: list[str]) -> list[str]:
        left = [p for p in self.cart(user) if p not in set(pids)]
        self.publications.set_cart(user.user, left)
        return left

    def prefill(self, user: TokenUser, pids: list[str]) -> dict[str, Any]:
        """Title, abstract and PI from the datasets' proposal, for the form."""
        docs = self._writable(pids, user) if pids else []
        proposals = sorted({p for d in docs for p in d.get("proposalIds") or []})
        proposal = self.publications.proposal(proposals[0]) if proposals else None
        pi = " ".join(x for x in ((proposal or {}).get("pi_lastname", ""), (proposal or {}).get("pi_firstname", "")) if x)
        return {"title": (proposal or {}).get("title", ""), "abstract": (proposal or {}).get("abstract", ""),
                "creators": [{"name": pi.replace(" ", ", ", 1)}] if pi else [], "dataset_pids": pids}

    # --- publications -----------------------------------------------------------

    def create(self, pub: PublicationIn, user: TokenUser, now: datetime) -> dict[str, Any]:
        """A private publication of datasets the user may change (all of one ownerGroup)."""
        _embargo_ahead(pub, now)
        owner_group = self._owner_group(pub.dataset_pids, user)
        doi = f"{self.doi_prefix}/{uuid.uuid4().hex[:10]}"
        files, size = self.publications.file_totals(pub.dataset_pids)
        doc = build_published_data(pub, doi=doi, owner_group=owner_group, user=user.user, now=now, files=files,
                                   size=size, landing_url=self.landing_url(doi),
                                   formats=self.publications.file_formats(pub.dataset_pids))
        self.publications.insert(doc.to_mongo())
        return self.public_view(doc.to_mongo())

    def _owner_group(self, pids: list[str], user: TokenUser) -> str:
        """The one owner group of datasets the user may publish (each checked now)."""
        groups = sorted({d["ownerGroup"] for d in self._writable(pids, user)})
        if len(groups) != 1:
            raise Invalid(f"a publication's datasets belong to one owner group; these belong to {', '.join(groups)}")
        return str(groups[0])

    def get(self, doi: str, user: TokenUser | None) -> dict[str, Any]:
        doc = self.publications.find(doi)
        if doc is None or not (doc.get("status") in _PUBLIC or (user and can_write(user, doc))):
            raise NotFound(f"no publication {doi!r} you can see")
        return doc

    def _own(self, doi: str, user: TokenUser) -> dict[str, Any]:
        doc = self.get(doi, user)
        if not can_write(user, doc):
            raise Forbidden(f"only members of {doc['ownerGroup']!r} may change publication {doi!r}")
        return doc

    def register(self, doi: str, user: TokenUser, now: datetime) -> dict[str, Any]:
        """Draft at DataCite, publish there, and only then mark the datasets published."""
        doc = self._own(doi, user)
        if doc["status"] in _PUBLIC:
            raise Conflict(f"{doi} is already registered")
        # The datasets are checked again now: one that moved to another group since is not made public.
        self._owner_group(doc["datasetPids"], user)
        attributes = doc["metadata"]["datacite"]
        if problems := schema_problems(attributes):
            raise Invalid("DataCite's schema refuses this metadata: " + "; ".join(problems[:5]))
        try:
            if (doc.get("registration") or {}).get("step") != PUBLISHED_AT_DATACITE:
                # Noted before the first call: from here on DataCite may have the DOI.
                self._note(doi, SENT_TO_DATACITE, None, now)
                self.datacite.draft(attributes)
                self.datacite.publish(attributes)
                self._note(doi, PUBLISHED_AT_DATACITE, None, now)
            embargo = doc.get("embargoUntil")
            if embargo is not None and embargo > now:
                # Public at DataCite and on the landing page now; the datasets at the embargo's
                # end, by the release job (_release), which reads this publication's state.
                self.publications.mark_embargoed(doc["datasetPids"], embargo, now)
                released = None
            else:
                self.publications.mark_published(doc["datasetPids"], now)
                released = now
        except UpstreamFailed as err:
            step = (self.publications.find(doi) or {}).get("registration") or {}
            self._note(doi, step.get("step", NOT_STARTED), str(err), now)
            raise
        self.publications.update(doi, {"$set": {"status": "registered", "registeredTime": now, "updatedAt": now,
                                                "updatedBy": user.user, "releasedTime": released},
                                       "$unset": {"registration": ""}})
        return self.public_view(self.publications.find(doi) or {})

    def _note(self, doi: str, step: str, error: str | None, now: datetime) -> None:
        self.publications.update(doi, {"$set": {"registration": {"step": step, "error": error, "at": now}}})

    def amend(self, doi: str, pub: PublicationIn, user: TokenUser, now: datetime) -> dict[str, Any]:
        """New metadata for a publication; a registered one is sent to DataCite first."""
        doc = self._own(doi, user)
        changed = sorted(pub.dataset_pids) != sorted(doc["datasetPids"])
        if changed and doc["status"] in _PUBLIC:
            raise Conflict("a registered publication keeps its datasets")
        datasets: dict[str, Any] = {}
        if changed:  # a private one takes the new list (what register publishes), each dataset checked
            if self._owner_group(pub.dataset_pids, user) != doc["ownerGroup"]:
                raise Invalid(f"a publication keeps its owner group {doc['ownerGroup']!r}")
            files, size = self.publications.file_totals(pub.dataset_pids)
            datasets = {"datasetPids": list(pub.dataset_pids), "numberOfFiles": files, "sizeOfArchive": size}
        embargo = self._embargo_change(doc, pub, now)
        content = content_attributes(int(datasets.get("numberOfFiles", doc.get("numberOfFiles", 0))),
                                     int(datasets.get("sizeOfArchive", doc.get("sizeOfArchive", 0))),
                                     self.publications.file_formats(list(pub.dataset_pids)))
        attributes = datacite_attributes(pub, doi, self.landing_url(doi), content)
        if problems := schema_problems(attributes):
            raise Invalid("DataCite's schema refuses this metadata: " + "; ".join(problems[:5]))
        # A new embargo is written first, by itself and only while no release round has claimed
        # the publication (its embargo ended, the round planned it): the round then keeps to the
        # new one, or this amendment loses and nothing of it is sent or stored.
        moved = embargo != doc.get("embargoUntil")
        if moved and not self.publications.set_embargo(doi, embargo, now):
            raise Conflict(f"the embargo of {doi} has ended and its datasets are being released: "
                           "its embargo cannot change any more")
        status = doc["status"]
        if status in _PUBLIC:
            try:
                self.datacite.amend(attributes)
            except UpstreamFailed:
                if moved:  # DataCite still has the old date: so does the store (as before the amendment)
                    self.publications.set_embargo(doi, doc.get("embargoUntil"), now)
                raise
            status = "amended"
        self.publications.update(doi, {"$set": {
            "title": pub.title, "abstract": pub.abstract, "status": status, "updatedAt": now, "updatedBy": user.user,
            "metadata": published_metadata(pub, doi, self.landing_url(doi), content), **datasets}})
        if embargo is not None and doc["status"] in _PUBLIC:
            self.publications.mark_embargoed(doc["datasetPids"], embargo, now)
        return self.public_view(self.publications.find(doi) or {})

    def _embargo_change(self, doc: dict[str, Any], pub: PublicationIn, now: datetime) -> datetime | None:
        """The embargo an amendment leaves: any future one while the datasets are not public;
        none (public now) lifts a registered one at the release job's next round; once the
        datasets are public, it stays as it was."""
        stored = doc.get("embargoUntil")
        if pub.embargo_until == stored:
            return stored
        if doc["status"] in _PUBLIC and doc.get("releasedTime", doc.get("registeredTime")) is not None:
            raise Conflict(f"the datasets of {doc['doi']} are public already: its embargo cannot change")
        _embargo_ahead(pub, now)
        if pub.embargo_until is None and doc["status"] in _PUBLIC:
            return now  # lifted: due now, released by the next round
        return pub.embargo_until

    def delete(self, doi: str, user: TokenUser, now: datetime) -> None:
        """Delete a publication that DataCite does not have (asking DataCite if it may).

        A publication sent to DataCite is deleted only once DataCite says it has no such DOI,
        or after its draft there is deleted; one DataCite has published is kept (409), and
        noted as published there so that registering again completes it.
        """
        doc = self._own(doi, user)
        if doc["status"] in _PUBLIC:
            raise Conflict(f"{doi} is registered: a DOI is forever, it cannot be deleted")
        if (doc.get("registration") or {}).get("step", NOT_STARTED) != NOT_STARTED:
            state = self.datacite.state(doi)  # UpstreamFailed: not known, so nothing is deleted
            if state == "draft":
                self.datacite.delete_draft(doi)
            elif state is not None:
                self._note(doi, PUBLISHED_AT_DATACITE, None, now)
                raise Conflict(f"DataCite has {doi} ({state}): a DOI is forever, it cannot be deleted; "
                               "register it again to complete the publication")
        self.publications.delete(doi)

    def releases(self, user: TokenUser, now: datetime, *, dry_run: bool, policy_years: int | None = None) -> ReleasePlan:
        """A round of the release job, or what it would release (administrators only)."""
        if not user.admin:
            raise Forbidden("only administrators run or preview the release job")
        return self.releaser.run(now, dry_run=dry_run, policy_years=policy_years)

    def public_view(self, doc: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({k: v for k, v in doc.items() if k != "_id"})
        out["landingPage"] = self.landing_url(doc.get("doi", ""))
        return out

    def datasets_of(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        """The published datasets of a publication, each with its files."""
        return self.publications.published_datasets(list(doc.get("datasetPids", [])))


def _embargo_ahead(pub: PublicationIn, now: datetime) -> None:
    if pub.embargo_until is not None and pub.embargo_until <= now:
        raise Invalid(f"embargo_until: the embargo would end in the past ({pub.embargo_until.isoformat()}); "
                      "leave it empty to make the datasets public when the DOI is registered")


def validate_form(data: Any) -> PublicationIn:
    from pydantic import ValidationError

    try:
        return PublicationIn.model_validate(data)
    except ValidationError as err:
        raise Invalid("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()[:10])) from err

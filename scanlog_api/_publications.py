"""The publications' store: carts, PublishedData, and what publishing reads and marks in the catalogue.

Every query and write of publishing, in one place, over the catalogue's one client; the
rules (who may, the order of a registration, DataCite) are :class:`~scanlog_api._publish.Publisher`'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.collection import Collection

from scizoo.core import (
    CART_COLLECTION,
    DATASET_COLLECTION,
    FIXITY_COLLECTION,
    ORIG_DATABLOCK_COLLECTION,
    PROPOSAL_COLLECTION,
    PUBLISHED_DATA_COLLECTION,
)

from ._catalogue import Catalogue

Doc = dict[str, Any]
#: scizoo's own: leases on jobs that one replica at a time runs (the release job's).
LEASE_COLLECTION = "ScizooLease"


class PublicationStore:
    """Carts and publications over the catalogue."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue

    def collection(self) -> Collection[Doc]:
        """The PublishedData collection (read by the OAI-PMH provider too)."""
        return self._catalogue.collection(PUBLISHED_DATA_COLLECTION)

    def leases(self) -> Collection[Doc]:
        return self._catalogue.collection(LEASE_COLLECTION)

    # --- carts ----------------------------------------------------------------

    def cart(self, user: str) -> list[str]:
        doc = self._catalogue.collection(CART_COLLECTION).find_one({"_id": user})
        return list((doc or {}).get("pids", []))

    def set_cart(self, user: str, pids: list[str]) -> None:
        self._catalogue.collection(CART_COLLECTION).update_one({"_id": user}, {"$set": {"pids": pids}}, upsert=True)

    # --- what a publication is made of ----------------------------------------

    def proposal(self, proposal_id: str) -> Doc | None:
        return self._catalogue.collection(PROPOSAL_COLLECTION).find_one({"_id": proposal_id})

    def file_totals(self, pids: list[str]) -> tuple[int, int]:
        """How many files the datasets' datablocks list, and their size in bytes."""
        blocks = list(self._catalogue.collection(ORIG_DATABLOCK_COLLECTION).find(
            {"datasetId": {"$in": pids}}, {"size": 1, "dataFileList": 1}))
        return sum(len(b.get("dataFileList", [])) for b in blocks), sum(int(b.get("size", 0)) for b in blocks)

    def file_formats(self, pids: list[str]) -> list[str]:
        """The extensions of the files the datasets' datablocks list (DataCite's ``formats``)."""
        blocks = self._catalogue.collection(ORIG_DATABLOCK_COLLECTION).find({"datasetId": {"$in": pids}},
                                                                            {"dataFileList.path": 1})
        names = (str(f.get("path", "")).rsplit("/", 1)[-1] for b in blocks for f in b.get("dataFileList", []))
        return sorted({n.rsplit(".", 1)[-1].lower() for n in names if "." in n.strip(".")})

    # --- publications ---------------------------------------------------------

    def insert(self, doc: Doc) -> None:
        self.collection().insert_one(doc)

    def find(self, doi: str) -> Doc | None:
        return self.collection().find_one({"_id": doi})

    def update(self, doi: str, update: Doc) -> None:
        self.collection().update_one({"_id": doi}, update)

    def delete(self, doi: str) -> None:
        self.collection().delete_one({"_id": doi})

    def mark_published(self, pids: list[str], now: datetime, *, published_on: datetime | None = None,
                       unless_embargoed: bool = False) -> list[str]:
        """The datasets (and their datablocks) published, as SciCat marks them (``publishedOn``:
        ``now``, or the day they were due, so that marking again changes nothing); which are public.

        ``unless_embargoed``: not a dataset whose ``dateOfPublishing`` (an embargo's end) is still
        ahead, decided by the store at the write, so a dataset put under an embargo after a
        policy round's plan and before its apply stays private."""
        datasets = self._catalogue.collection(DATASET_COLLECTION)
        guard: Doc = {"datasetlifecycle.dateOfPublishing": {"$not": {"$gt": now}}} if unless_embargoed else {}
        datasets.update_many(
            {"_id": {"$in": pids}, **guard},
            {"$set": {"isPublished": True, "datasetlifecycle.publishedOn": published_on or now, "updatedAt": now}})
        public = [d["_id"] for d in datasets.find({"_id": {"$in": pids}, "isPublished": True}, {"_id": 1})] \
            if guard else pids
        self._catalogue.collection(ORIG_DATABLOCK_COLLECTION).update_many({"datasetId": {"$in": public}},
                                                                          {"$set": {"isPublished": True}})
        return public

    def mark_embargoed(self, pids: list[str], until: datetime, now: datetime) -> None:
        """The day the datasets become public, in SciCat's own field for it
        (``datasetlifecycle.dateOfPublishing``: "when the dataset is supposed to become public")."""
        self._catalogue.collection(DATASET_COLLECTION).update_many(
            {"_id": {"$in": pids}, "isPublished": {"$ne": True}},
            {"$set": {"datasetlifecycle.dateOfPublishing": until, "updatedAt": now}})

    # --- releases (the release job's reads and writes) ---------------------------

    def due_embargoes(self, now: datetime) -> list[Doc]:
        """Registered publications whose embargo has ended and whose datasets are not yet released."""
        return list(self.collection().find(
            {"status": {"$in": ["registered", "amended"]}, "releasedTime": None, "embargoUntil": {"$lte": now}},
            {"datasetPids": 1, "embargoUntil": 1, "ownerGroup": 1}).sort("embargoUntil", 1))

    def pending_embargoes(self) -> list[Doc]:
        """Registered publications still under embargo (their datasets wait for it)."""
        return list(self.collection().find(
            {"status": {"$in": ["registered", "amended"]}, "releasedTime": None, "embargoUntil": {"$ne": None}},
            {"datasetPids": 1, "embargoUntil": 1}))

    def unpublished(self, pids: list[str], owner_group: str | None = None) -> list[str]:
        """Which of these datasets are not public yet (of ``owner_group`` only, when given)."""
        query: Doc = {"_id": {"$in": pids}, "isPublished": {"$ne": True}}
        if owner_group is not None:
            query["ownerGroup"] = owner_group
        return [d["_id"] for d in self._catalogue.collection(DATASET_COLLECTION).find(query, {"_id": 1})]

    def claim_release(self, doi: str, now: datetime) -> Doc | None:
        """Claim a publication for the release of its datasets, if its embargo has still ended and
        it is not released: the publication (its ``embargoUntil`` as it is now), or None. One
        conditional write, so an amendment that moved the embargo since the round's plan wins or
        loses as a whole (:meth:`set_embargo` refuses a publication that is ``releasingAt``). A
        round that dies after its claim leaves the publication due: the next one claims it again."""
        return self.collection().find_one_and_update(
            {"_id": doi, "releasedTime": None, "embargoUntil": {"$lte": now}}, {"$set": {"releasingAt": now}},
            projection={"embargoUntil": 1}, return_document=ReturnDocument.AFTER)

    def set_embargo(self, doi: str, until: datetime | None, now: datetime) -> bool:
        """A new embargo, unless a release round has claimed the publication or released it
        (:meth:`claim_release`): False then, and nothing written."""
        done = self.collection().update_one({"_id": doi, "releasedTime": None, "releasingAt": None},
                                            {"$set": {"embargoUntil": until, "updatedAt": now}})
        return done.matched_count == 1

    def mark_released(self, doi: str, now: datetime) -> bool:
        """The publication's datasets are public: True the first time only (several runs, one release)."""
        done = self.collection().update_one({"_id": doi, "releasedTime": None}, {"$set": {"releasedTime": now}})
        return done.modified_count == 1

    def ended_proposals(self, cutoff: datetime) -> list[Doc]:
        """Proposals that ended (``endTime``, else their last measurement period) at or before ``cutoff``."""
        return list(self._catalogue.collection(PROPOSAL_COLLECTION).find(
            {"$or": [{"endTime": {"$lte": cutoff}}, {"MeasurementPeriodList.end": {"$lte": cutoff}}]},
            {"endTime": 1, "MeasurementPeriodList": 1}))

    def proposals_without_end_time(self) -> list[Doc]:
        """Proposals with no ``endTime`` (their measurement periods may still say when they ended)."""
        return list(self._catalogue.collection(PROPOSAL_COLLECTION).find({"endTime": None}, {"MeasurementPeriodList": 1}))

    def unpublished_raw(self, proposal_id: str) -> list[str]:
        """The pids of a proposal's raw datasets that are not public yet (served by the proposal's index)."""
        return [d["_id"] for d in self._catalogue.collection(DATASET_COLLECTION).find(
            {"proposalIds": proposal_id, "type": "raw", "isPublished": {"$ne": True}}, {"_id": 1})]

    def published_datasets(self, pids: list[str]) -> list[Doc]:
        """The published ones of these datasets, each with its files."""
        files: dict[str, list[Doc]] = {}
        for block in self._catalogue.collection(ORIG_DATABLOCK_COLLECTION).find({"datasetId": {"$in": pids}}):
            # Each file with its datablock's checksum algorithm (the landing page shows both).
            files.setdefault(block["datasetId"], []).extend({**f, "chkAlg": block.get("chkAlg", "")}
                                                             for f in block.get("dataFileList", []))
        published = list(self._catalogue.collection(DATASET_COLLECTION).find({"_id": {"$in": pids}, "isPublished": True}))
        # The fixity worker's summary of each (only the published ones', as the page is public).
        fixity = {d["_id"]: d for d in self._catalogue.collection(FIXITY_COLLECTION).find(
            {"_id": {"$in": [d["_id"] for d in published]}})}
        return [{**d, "files": files.get(d["_id"], []), "fixity": fixity.get(d["_id"])} for d in published]

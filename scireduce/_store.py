"""The worker's stores on MongoDB: the jobs (:class:`MongoJobStore`) and the catalogue (:class:`MongoCatalogue`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from scizoo.core import (
    ATTACHMENT_COLLECTION,
    DATASET_COLLECTION,
    JOB_COLLECTION,
    ORIG_DATABLOCK_COLLECTION,
    PRODUCER_OWNED_DATABLOCK_FIELDS,
    REDUCTION_OWNED_DATASET_FIELDS,
    DerivedDocuments,
    JobDocument,
    JobState,
    producer_update,
    rerun_pattern,
)

Doc = dict[str, Any]


class MongoJobStore:
    """:class:`~scireduce._ports.JobStore` on the catalogue's ``ScizooReductionJob`` collection."""

    def __init__(self, collection: Collection[Doc]) -> None:
        self._jobs = collection

    @classmethod
    def of(cls, db: Database[Doc]) -> MongoJobStore:
        return cls(db[JOB_COLLECTION])

    def create(self, job: JobDocument) -> bool:
        try:
            self._jobs.insert_one(job.to_mongo())
        except DuplicateKeyError:
            return False
        return True

    def get(self, job_id: str) -> JobDocument | None:
        doc = self._jobs.find_one({"_id": job_id})
        return None if doc is None else JobDocument.from_stored(doc)

    def update(self, job_id: str, changes: Doc, expect: Doc | None = None) -> JobDocument | None:
        doc = self._jobs.find_one_and_update({**(expect or {}), "_id": job_id}, {"$set": changes},
                                             return_document=ReturnDocument.AFTER)
        return None if doc is None else JobDocument.from_stored(doc)

    def requested(self, limit: int) -> list[JobDocument]:
        found = self._jobs.find({"state": JobState.QUEUED, "requestedBy": {"$exists": True}})
        return [JobDocument.from_stored(d) for d in found.sort("createdAt", ASCENDING).limit(limit)]

    def running_since_before(self, before: datetime, limit: int) -> list[JobDocument]:
        found = self._jobs.find({"state": JobState.RUNNING, "startedAt": {"$lt": before}}).limit(limit)
        return [JobDocument.from_stored(d) for d in found]

    def count_reruns(self, pid: str, rule_name: str) -> int:
        return self._jobs.count_documents({"datasetId": pid, "rule": {"$regex": rerun_pattern(rule_name)}})


class MongoCatalogue:
    """:class:`~scireduce._ports.Catalogue` on the catalogue's SciCat collections."""

    def __init__(self, db: Database[Doc]) -> None:
        self._db = db

    def dataset(self, pid: str) -> Doc | None:
        return self._db[DATASET_COLLECTION].find_one({"_id": pid})

    def files_of(self, pid: str) -> list[str]:
        return [f["path"] for b in self._db[ORIG_DATABLOCK_COLLECTION].find({"datasetId": pid})
                for f in b.get("dataFileList", [])]

    def group_of(self, dataset: Doc, values: dict[str, Any], limit: int) -> list[Doc]:
        query: Doc = {"type": "raw", "ownerGroup": dataset["ownerGroup"],
                      **{f"scientificMetadata.{key}.value": value for key, value in values.items()}}
        if dataset.get("proposalIds"):
            query["proposalIds"] = {"$all": dataset["proposalIds"]}
        return list(self._db[DATASET_COLLECTION].find(query).sort([("creationTime", ASCENDING), ("_id", ASCENDING)])
                    .limit(limit))

    def created_between(self, after: datetime, until: datetime, limit: int) -> list[Doc]:
        query = {"type": "raw", "creationTime": {"$gt": after, "$lte": until}}
        return list(self._db[DATASET_COLLECTION].find(query).sort("creationTime", DESCENDING).limit(limit))

    def write_derived(self, documents: DerivedDocuments) -> None:
        _insert_or_update(self._db[DATASET_COLLECTION], documents.dataset.to_mongo(), REDUCTION_OWNED_DATASET_FIELDS)
        _insert_or_update(self._db[ORIG_DATABLOCK_COLLECTION], documents.datablock.to_mongo(),
                          PRODUCER_OWNED_DATABLOCK_FIELDS)
        if documents.plot is not None:
            plot = documents.plot.to_mongo()
            self._db[ATTACHMENT_COLLECTION].replace_one({"_id": plot["_id"]}, plot, upsert=True)


def _insert_or_update(collection: Collection[Doc], doc: Doc, owned: frozenset[str]) -> None:
    """Write a document the first time; a second write (a job taken over) sets only what the
    reduction owns, so a derived dataset published or shared meanwhile stays so."""
    try:
        collection.insert_one(doc)
    except DuplicateKeyError:
        collection.update_one({"_id": doc["_id"]}, producer_update(doc, owned))

"""The catalogue's collections and the one set of indexes every service creates.

Names follow SciCat (scicat-backend-next v4) where SciCat has the collection; the
others are scizoo's own. Index specs are plain data: each service calls
:func:`ensure_indexes` at start, and creating an index that exists is a no-op, so the
order services start in does not matter.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Final

from ._previews import PREVIEW_COLLECTION

logger = logging.getLogger(__name__)

DATASET_COLLECTION: Final = "Dataset"
ORIG_DATABLOCK_COLLECTION: Final = "OrigDatablock"
PROPOSAL_COLLECTION: Final = "Proposal"
ATTACHMENT_COLLECTION: Final = "Attachment"
#: scizoo's own: scans whose proposal is not known yet (re-driven when it appears).
QUARANTINE_COLLECTION: Final = "quarantine"
#: scizoo's own: the scan table's comments and rating history.
COMMENT_COLLECTION: Final = "ScanlogComment"
RATING_COLLECTION: Final = "ScanlogRating"
#: scidog: capture configurations (current state), every revision, and each beamline's active one.
CONFIGURATION_COLLECTION: Final = "ScidogConfiguration"
CONFIGURATION_REVISION_COLLECTION: Final = "ScidogRevision"
ACTIVE_CONFIGURATION_COLLECTION: Final = "ScidogActive"
#: scizoo's own: reduction jobs (queued, running, succeeded, failed, skipped, cancelled).
JOB_COLLECTION: Final = "ScizooReductionJob"
#: The reduction rules in use: one revisioned document (scireduce follows it, scanlog edits it).
REDUCTION_RULES_COLLECTION: Final = "ScizooReductionRules"
#: Every revision of the reduction rules (who, when, the rules), _id the revision number.
REDUCTION_RULE_REVISION_COLLECTION: Final = "ScizooReductionRuleRevision"
#: scifix: each dataset's fixity (state ok/flagged/mismatch, problem files, when checked and
#: verified), _id the dataset's pid; read by the scan table, written only by the fixity worker.
FIXITY_COLLECTION: Final = "ScizooFixity"
#: The pipelines the reduction workers have (steps, inputs, parameters), _id the pipeline's name.
PIPELINE_COLLECTION: Final = "ScizooPipeline"
#: SciCat's: publications with their DOI; scizoo's own: each user's cart of datasets to publish.
PUBLISHED_DATA_COLLECTION: Final = "PublishedData"
INSTRUMENT_COLLECTION: Final = "Instrument"
CART_COLLECTION: Final = "ScanlogCart"
#: scizoo's own: e-logbook entries made through scanlog, and by whom (who may append).
ELOG_ENTRY_COLLECTION: Final = "ScanlogElogEntry"
#: scizoo's own: the scan table's saved views (columns, conditions, filters, sort), per user.
VIEW_COLLECTION: Final = "ScanlogView"
#: Each user's default view: one pointer document per user (``_id`` = the user's name).
VIEW_DEFAULT_COLLECTION: Final = "ScanlogViewDefault"
#: scizoo's own: short-lived download tickets (scanlog_api/_tickets.py), by the hash of the ticket.
DOWNLOAD_TICKET_COLLECTION: Final = "ScanlogDownloadTicket"

ASCENDING: Final = 1
DESCENDING: Final = -1

IndexKeys = list[tuple[str, int]]

#: collection -> the compound indexes on it. Every query the product makes starts from one
#: of these (the store plans from the first key; docs/performance.md shows why each exists).
INDEXES: Final[dict[str, list[IndexKeys]]] = {
    DATASET_COLLECTION: [
        [("proposalIds", ASCENDING), ("creationTime", DESCENDING)],
        [("instrumentIds", ASCENDING), ("creationTime", DESCENDING)],
        [("ownerGroup", ASCENDING), ("creationTime", DESCENDING)],
        [("accessGroups", ASCENDING), ("creationTime", DESCENDING)],
        [("isPublished", ASCENDING), ("creationTime", DESCENDING)],
        [("creationTime", DESCENDING)],
    ],
    ORIG_DATABLOCK_COLLECTION: [[("datasetId", ASCENDING)]],
    # The backend's own index: its v3 and v4 look-ups of a dataset's attachments use it.
    ATTACHMENT_COLLECTION: [[("relationships.targetId", ASCENDING)]],
    QUARANTINE_COLLECTION: [[("proposal_id", ASCENDING)]],
    COMMENT_COLLECTION: [[("datasetId", ASCENDING), ("createdAt", ASCENDING)]],
    RATING_COLLECTION: [[("datasetId", ASCENDING), ("at", ASCENDING)]],
    CONFIGURATION_COLLECTION: [[("beamline", ASCENDING), ("name", ASCENDING)]],
    # inputIds: a group reduction's scans, each of which shows the group's job.
    JOB_COLLECTION: [[("datasetId", ASCENDING)], [("inputIds", ASCENDING)], [("state", ASCENDING), ("updatedAt", ASCENDING)],
                     [("updatedAt", DESCENDING)]],
    PUBLISHED_DATA_COLLECTION: [[("status", ASCENDING), ("registeredTime", ASCENDING)], [("ownerGroup", ASCENDING)]],
    CONFIGURATION_REVISION_COLLECTION: [[("beamline", ASCENDING), ("name", ASCENDING), ("revision", DESCENDING)]],
    # The views shared with a reader's groups (their own come from the unique index below).
    VIEW_COLLECTION: [[("sharedGroup", ASCENDING)]],
    # Reduction previews (issue 22): a worker takes the oldest queued; the scan table replaces a
    # person's queued one and removes the expired.
    PREVIEW_COLLECTION: [[("state", ASCENDING), ("createdAt", ASCENDING)],
                         [("requestedBy", ASCENDING), ("state", ASCENDING)]],
    # A user's live download tickets, counted against their bound.
    # A ticket is found by its hash (`ticket`); its _id is its owner's slot (scanlog_api._tickets).
    DOWNLOAD_TICKET_COLLECTION: [[("owner", ASCENDING), ("expiresAt", ASCENDING)], [("ticket", ASCENDING)]],
}

#: collection -> the date field after which the store removes a document itself (MongoDB's TTL
#: monitor runs about once a minute, so readers still compare the date themselves).
TTL_INDEXES: Final[dict[str, str]] = {DOWNLOAD_TICKET_COLLECTION: "expiresAt", PREVIEW_COLLECTION: "expiresAt"}

#: collection -> indexes only a store with wildcard indexes builds (MongoDB 4.2 or later). Metadata
#: conditions name any scientificMetadata key (``scientificMetadata.<key>.valueSI``, ``.unitSI``,
#: ``.value``, ``.unit``): the keys are open-ended, so no fixed index can name them; one wildcard
#: index serves a condition on any of them, and MongoDB's planner picks it (or a proposal's or an
#: access field's index above) by trial. Correct without it, only slower: docs/performance.md,
#: "Search at scale", says what it costs (an index entry per leaf of every entry) and how to build
#: it ahead of a start on a large catalogue.
WILDCARD_INDEXES: Final[dict[str, list[IndexKeys]]] = {
    DATASET_COLLECTION: [[("scientificMetadata.$**", ASCENDING)]],
}

#: The backend's unique indexes on what we write (an Instrument's uniqueName).
UNIQUE_INDEXES: Final[dict[str, IndexKeys]] = {INSTRUMENT_COLLECTION: [("uniqueName", ASCENDING)],
                                                # and ours: one view of a name per user.
                                                VIEW_COLLECTION: [("owner", ASCENDING), ("name", ASCENDING)]}


def wildcard_supported(build_info: Mapping[str, Any]) -> bool:
    """Whether the server whose ``buildInfo`` this is builds wildcard indexes: MongoDB 4.2 or later.

    SecantusDB answers as MongoDB 8.2 but names itself (``secantusVersion``): it accepts a
    wildcard spec without error and indexes the literal path ``scientificMetadata.$**``, which
    no query uses (checked: its plans for ``scientificMetadata.<key>.valueSI`` stay COLLSCAN), at
    the cost of a key on every write. So the version alone cannot be trusted here.
    """
    if "secantusVersion" in build_info:
        return False
    version = build_info.get("versionArray") or [0]
    return [int(v) for v in version[:2]] >= [4, 2]


#: Every collection with an index: :func:`ensure_collections` makes them before a service writes.
INDEXED_COLLECTIONS: Final = tuple(dict.fromkeys([*INDEXES, *UNIQUE_INDEXES, *TTL_INDEXES]))

#: MongoDB's code for "a collection of that name exists".
_NAMESPACE_EXISTS: Final = 48


def ensure_collections(db: Any, collections: Iterable[str]) -> None:
    """Create those of these collections that ``db`` (a pymongo ``Database``) does not hold yet.

    Done before a service's first write, so no write creates one: SecantusDB (the embedded
    store) deadlocks when createIndexes creates a collection that an insert is creating at the
    same moment (every thread of the server waits for ever; reproduced with three threads in
    seconds, never once the collections were made ahead). MongoDB needs none of this. Another
    service creating the same one meanwhile is no error. Idempotent.
    """
    wanted = list(dict.fromkeys(collections))
    held = set(db.list_collection_names(filter={"name": {"$in": wanted}}))
    for name in wanted:
        if name in held:
            continue
        try:
            db.command("create", name)
        except Exception as err:  # the core names no client: pymongo's OperationFailure, by its code
            if getattr(err, "code", None) != _NAMESPACE_EXISTS:
                raise


def ensure_collection_indexes(db: Any, collections: Iterable[str]) -> None:
    """Create these collections (:func:`ensure_collections`) and their plain, unique and TTL
    indexes only: what a service needs before its first write, without the catalogue's whole
    build (:func:`ensure_indexes`: the migration and the wildcard index take minutes on a large
    one). Idempotent."""
    collections = list(collections)
    ensure_collections(db, collections)
    _create_indexes(db, collections)


def _create_indexes(db: Any, collections: Iterable[str]) -> None:
    for collection in collections:
        for keys in INDEXES.get(collection, []):
            db[collection].create_index(keys)
        if collection in UNIQUE_INDEXES:
            db[collection].create_index(UNIQUE_INDEXES[collection], unique=True)
        if collection in TTL_INDEXES:
            db[collection].create_index([(TTL_INDEXES[collection], ASCENDING)], expireAfterSeconds=0)


def ensure_indexes(db: Any) -> None:
    """Bring stored documents into the backend's shape (:func:`migrate_catalogue`), then create
    every index of :data:`INDEXES` in ``db`` (a pymongo ``Database``), and of
    :data:`WILDCARD_INDEXES` where the server builds them (:func:`wildcard_supported`); all
    idempotent.

    Takes the database as a parameter so the core never imports a client.
    """
    from ._migrations import MigrationError, migrate_catalogue  # here: they import this module's names

    ensure_collections(db, INDEXED_COLLECTIONS)  # first: before the migration writes
    try:
        migrate_catalogue(db)
    except MigrationError as err:
        # The service works without it (SciCat misses what is not moved yet): said loudly,
        # and tried again at the next start or with `scizoo catalogue migrate`.
        logger.error("catalogue migration incomplete: %s", err)
    _create_indexes(db, INDEXED_COLLECTIONS)  # the collections are there: made above
    if wildcard_supported(db.command("buildInfo")):
        # Last: on a large catalogue its first build takes minutes (the services build their
        # indexes beside their start; docs/performance.md has the command to build it ahead).
        for collection, specs in WILDCARD_INDEXES.items():
            for keys in specs:
                db[collection].create_index(keys)
    else:
        logger.info("the store builds no wildcard indexes: metadata conditions are served by the other indexes")
    logger.info("catalogue indexes are in place")

"""Bring documents stored by an older scizoo into the shape the SciCat backend reads
(attachments' relationships, publications' DataCite properties, datasets' ``unitSI``).

Each migration is a pure rule (a stored document -> the update that fixes it, or None when
it needs none) and a small runner over a pymongo ``Database`` passed in (the core imports no
client). Running one again finds nothing to do, and two services starting at once write the
same update, so every service runs them at its first start on a store (:func:`migrate_catalogue`,
from :func:`ensure_indexes`; the store is then marked), and ``scizoo catalogue migrate`` runs
them by hand whatever the mark says.
"""

from __future__ import annotations

import logging
from typing import Any

from ._attachments import ATTACHED_TO
from ._catalogue import ATTACHMENT_COLLECTION, DATASET_COLLECTION, PUBLISHED_DATA_COLLECTION
from ._errors import ScizooError
from ._published import SCICAT_METADATA_FIELDS
from ._units import pint_unit_si, to_si

logger = logging.getLogger(__name__)


class MigrationError(ScizooError):
    """The store refused a migration's rewrite (it runs again at the next start)."""


#: The fields an attachment named its target by before SciCat v4's relationships (v3's, and
#: scizoo's before issue 18), with the target type each stands for.
LEGACY_TARGETS: dict[str, str] = {"datasetId": "dataset", "sampleId": "sample", "proposalId": "proposal"}
#: What needs moving: scizoo before issue 18 wrote ``relationships: [{targetIds: [pid], ...}]``
#: (a field the backend does not have, so it found none of them), and earlier only ``datasetId``;
#: the rest as the backend's own migration (migrations/20250318101300-migrate-attachment-id-
#: field-to-aid.js) selects them, so the two agree on every attachment.
STALE_ATTACHMENTS: dict[str, Any] = {"$or": [
    {"relationships.targetIds": {"$exists": True}},
    *({name: {"$exists": True}} for name in LEGACY_TARGETS),
    {"id": {"$exists": True}},
    {"aid": {"$exists": False}},
]}
#: The index on the old field (only scizoo made it): dropped once nothing is stored that way.
STALE_ATTACHMENT_INDEX = "relationships.targetIds_1"


def attachment_update(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The update that gives a stored Attachment the backend's relationships, or None.

    Each ``targetIds`` entry becomes one relationship per target (``targetId``, its type and
    relation kept); a ``datasetId``, ``sampleId`` or ``proposalId`` becomes a relationship of
    its type unless one is there already, and is then removed (the backend's schema has no
    such fields); a missing ``aid`` is v3's ``id``, else the ``_id`` (v4 finds an attachment
    by its aid), and ``id`` is removed. Relationships already right are kept, in order: unlike
    the backend's migration, which rebuilds them from the legacy fields, nothing is dropped.
    """
    relationships: list[Any] = []
    changed = False
    stored = doc.get("relationships") or []
    for entry in stored if isinstance(stored, list) else [stored]:
        if isinstance(entry, dict) and "targetIds" in entry:
            rest = {k: v for k, v in entry.items() if k != "targetIds"}
            targets = entry["targetIds"] if isinstance(entry["targetIds"], list) else [entry["targetIds"]]
            relationships += [{**rest, "targetId": str(t), "targetType": rest.get("targetType", "dataset"),
                               "relationType": rest.get("relationType", ATTACHED_TO)} for t in targets]
            changed = True
        else:
            relationships.append(entry)
    update: dict[str, Any] = {}
    unset = [name for name in (*LEGACY_TARGETS, "id") if name in doc]
    for name, kind in LEGACY_TARGETS.items():
        if doc.get(name) in (None, ""):
            continue
        target = str(doc[name])
        if not any(isinstance(r, dict) and r.get("targetId") == target and r.get("targetType") == kind
                   for r in relationships):
            relationships.append({"targetId": target, "targetType": kind, "relationType": ATTACHED_TO})
            changed = True
    if changed:
        update["$set"] = {"relationships": relationships}
    if not doc.get("aid"):
        update.setdefault("$set", {})["aid"] = str(doc.get("id") or doc["_id"])
    if unset:
        update["$unset"] = dict.fromkeys(unset, "")
    return update or None


def migrate_attachments(db: Any, *, batch: int = 1000) -> int:
    """Rewrite every stale Attachment in ``db``; returns how many were rewritten.

    One pass of one cursor, the rewrites sent ``batch`` at a time in one ``update`` command
    (measured on SecantusDB: 20,000 one-by-one updates slow down to 85 s, in batches 4 s; and
    re-reading from the start after each batch scans the rewritten ones again). A document the
    cursor returns twice gets the same update again, which changes nothing.
    """
    attachments = db[ATTACHMENT_COLLECTION]
    moved = 0
    pending: list[dict[str, Any]] = []
    fields = dict.fromkeys(("relationships", *LEGACY_TARGETS, "id", "aid"), 1)  # not the images
    stale = attachments.find(STALE_ATTACHMENTS, fields).batch_size(batch)
    for doc in stale:
        update = attachment_update(doc)
        if update is not None:
            pending.append({"q": {"_id": doc["_id"]}, "u": update})
        if len(pending) >= batch:
            moved += _send(db, pending)
            pending = []
    if pending:
        moved += _send(db, pending)
    if STALE_ATTACHMENT_INDEX in attachments.index_information():
        attachments.drop_index(STALE_ATTACHMENT_INDEX)
    if moved:
        logger.info("moved %d attachments to the relationships the SciCat backend reads (targetId)", moved)
    return moved


def _send(db: Any, updates: list[dict[str, Any]], collection: str = ATTACHMENT_COLLECTION) -> int:
    """One ``update`` command (the core imports no client, so no ``UpdateOne``); its errors raised."""
    reply = db.command({"update": collection, "updates": updates, "ordered": False})
    problems = [*(reply.get("writeErrors") or []), *([reply["writeConcernError"]] if "writeConcernError" in reply else [])]
    if problems:
        raise MigrationError(f"{len(problems)} of {len(updates)} {collection} rewrites failed; "
                             f"first: {problems[0].get('errmsg', problems[0])}")
    # What matched (a rewrite whose guard no longer holds, as a unitSI respelled meanwhile, did not).
    return int(reply.get("n", len(updates)))


#: Publications stored before issue 18 kept their DataCite properties only under
#: ``metadata.datacite``, where SciCat neither reads nor validates them.
STALE_PUBLICATIONS: dict[str, Any] = {"metadata.datacite": {"$exists": True}, "metadata.creators": {"$exists": False}}


def published_data_update(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The update that puts a PublishedData's DataCite properties where SciCat reads them
    (as :func:`published_metadata` writes them now), or None when they are there."""
    metadata = doc.get("metadata") or {}
    attributes = metadata.get("datacite")
    if not isinstance(attributes, dict) or "creators" in metadata:
        return None
    found: dict[str, Any] = {f"metadata.{name}": attributes[name] for name in SCICAT_METADATA_FIELDS
                             if name in attributes}
    year = str(attributes.get("publicationYear", ""))
    if year.isdigit():
        found["metadata.publicationYear"] = int(year)
    kind = (attributes.get("types") or {}).get("resourceType")
    if kind:
        found["metadata.resourceType"] = kind
    return {"$set": found} if found else None


def migrate_published_data(db: Any) -> int:
    """Rewrite every stale PublishedData in ``db`` (a few per proposal: no batches needed)."""
    updates = [{"q": {"_id": doc["_id"]}, "u": update}
               for doc in db[PUBLISHED_DATA_COLLECTION].find(STALE_PUBLICATIONS, {"metadata": 1})
               if (update := published_data_update(doc)) is not None]
    moved = _send(db, updates, PUBLISHED_DATA_COLLECTION) if updates else 0
    if moved:
        logger.info("moved the DataCite properties of %d publications to where SciCat reads them", moved)
    return moved


def unit_si_update(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The update that spells a dataset's ``unitSI`` as the SciCat backend does, or None.

    scizoo wrote pint's spelling (``kg*m**2/s**2``) before; SciCat's unit-aware search compares
    mathjs's (``(kg m^2) / s^2``) as a string, so found none of those values. Every entry, nested
    ones and those in lists too, whose ``unitSI`` is pint's spelling of its own ``unit`` gets the
    new one; an entry written another way (by SciCat, by hand) is left as it is. The filter holds
    the old spellings, so a scan re-ingested meanwhile (new spelling already) is not touched.
    """
    found: dict[str, tuple[str, str]] = {}
    _stale_units(doc.get("scientificMetadata"), "scientificMetadata", found)
    if not found:
        return None
    return {"q": {"_id": doc["_id"], **{path: old for path, (old, _) in found.items()}},
            "u": {"$set": {path: new for path, (_, new) in found.items()}}}


def _stale_units(node: Any, path: str, found: dict[str, tuple[str, str]]) -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _stale_units(item, f"{path}.{i}", found)
        return
    if not isinstance(node, dict):
        return
    unit, stored = node.get("unit"), node.get("unitSI")
    if isinstance(unit, str) and unit and isinstance(stored, str):
        si = to_si(1.0, unit)
        if si is not None and stored != si.unit and stored == pint_unit_si(unit):
            found[f"{path}.unitSI"] = (stored, si.unit)
    for key, value in node.items():
        if isinstance(key, str) and key and "." not in key and not key.startswith("$"):  # addressable by a path
            _stale_units(value, f"{path}.{key}", found)


#: The most unitSI paths one migration command rewrites (about 1.5 MB of command).
MAX_PATHS_PER_COMMAND = 5000


def migrate_unit_si(db: Any, *, batch: int = 1000) -> int:
    """Respell every dataset's stale ``unitSI`` (:func:`unit_si_update`); how many datasets changed.

    It reads every dataset's scientificMetadata once (no query can select a spelling under
    keys that vary), and sends the rewrites ``batch`` at a time as the attachments' migration.
    """
    moved = 0
    pending: list[dict[str, Any]] = []
    paths = 0
    for doc in db[DATASET_COLLECTION].find({}, {"scientificMetadata": 1}).batch_size(batch):
        update = unit_si_update(doc)
        if update is not None:
            pending.append(update)
            paths += len(update["u"]["$set"])
        # Sent by updates and by paths: one command must stay far below the store's 16 MB (a path
        # is about 150 bytes in the filter and the update; a scan may have hundreds).
        if len(pending) >= batch or paths >= MAX_PATHS_PER_COMMAND:
            moved += _send(db, pending, DATASET_COLLECTION)
            pending, paths = [], 0
    if pending:
        moved += _send(db, pending, DATASET_COLLECTION)
    if moved:
        logger.info("spelled unitSI as the SciCat backend does in %d datasets", moved)
    return moved


#: Where a store records that its migrations ran (``_id`` = :data:`MIGRATIONS_DONE`).
MIGRATION_COLLECTION = "ScizooMigration"
#: Bumped when a migration is added: a store marked with an older one runs them again.
MIGRATIONS_DONE = "catalogue-2026-12-05b"


def migrate_catalogue(db: Any, *, force: bool = False) -> dict[str, int]:
    """Run every migration on ``db``; how many documents each rewrote.

    Once they have all run, the store is marked and later calls (every service's start) only
    read the mark: each migration reads its whole collection, which at a facility's size is
    minutes per start of every replica. ``force`` (``scizoo catalogue migrate``) runs them
    again whatever the mark says, for documents an older scizoo still writing may have added.
    """
    marks = db[MIGRATION_COLLECTION]
    if not force and marks.find_one({"_id": MIGRATIONS_DONE}) is not None:
        return {}
    moved = {"attachments": migrate_attachments(db), "publications": migrate_published_data(db),
             "datasets' unitSI": migrate_unit_si(db)}
    marks.update_one({"_id": MIGRATIONS_DONE}, {"$set": {"moved": moved}}, upsert=True)
    return moved

"""Which pipeline runs for which datasets, with which parameters.

The models are the core's (:mod:`scizoo.core._reduction`), read by the scan table's API too.
The rules in use are the store's revisioned set (:class:`StoredRules`), which an
administrator edits through the scan table's API; the YAML file (config/reduction/)
seeds it on the first start, and ``scireduce rules import`` replaces it from a file. Each
revision is kept in the rules' history too, as the scan table keeps its own.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from scizoo.core import (
    ACTIVE_RULES_ID,
    REDUCTION_RULE_REVISION_COLLECTION,
    ReductionRule,
    ReductionRuleSet,
    RuleCondition,
    load_yaml_model,
    revision_document,
)

from ._ports import Clock, system_clock

logger = logging.getLogger(__name__)

# The names scireduce's users know.
Condition = RuleCondition
Rule = ReductionRule
RuleSet = ReductionRuleSet


def load_rules(path: str | Path) -> RuleSet:
    return load_yaml_model(path, RuleSet, "set of reduction rules")


class StoredRules:
    """The store's rule set, as the workers follow it: re-read when its revision changes.

    A revision that does not validate (written around the API) is logged once and the last
    good rules stay in use.
    """

    def __init__(self, collection: Collection[dict[str, Any]], seed_file: str | Path, *,
                 clock: Clock = system_clock) -> None:
        self._collection = collection
        self._clock = clock
        self._seed_file = Path(seed_file)
        self.revision: int | None = None
        self.rules = RuleSet()

    def seed(self) -> bool:
        """Put the YAML file's rules in the store if it holds none yet; True if it did."""
        rules = load_rules(self._seed_file)
        by, now = f"file {self._seed_file}", self._clock()
        try:
            self._collection.insert_one({"_id": ACTIVE_RULES_ID, "revision": 1, "rules": rules.model_dump()["rules"],
                                         "updatedBy": by, "updatedAt": now})
        except DuplicateKeyError:
            return False
        self._keep(1, rules, by, now)
        logger.info("reduction rules seeded from %s (%d rules)", self._seed_file, len(rules.rules))
        return True

    def replace(self, rules: RuleSet, by: str) -> int:
        """Replace the store's rules (``scireduce rules import``); the new revision."""
        now = self._clock()
        done = self._collection.find_one_and_update(
            {"_id": ACTIVE_RULES_ID},
            {"$set": {"rules": rules.model_dump()["rules"], "updatedBy": by, "updatedAt": now, "restoredFrom": None},
             "$inc": {"revision": 1}}, upsert=True, return_document=True)
        revision = int((done or {}).get("revision", 0))
        self._keep(revision, rules, by, now)
        return revision

    def _keep(self, revision: int, rules: RuleSet, by: str, now: datetime) -> None:
        """Keep the revision in the rules' history (the scan table lists, diffs and restores it),
        in the one shape the scan table's API writes too (by its number: written again, the same)."""
        kept = revision_document(revision, rules, by=by, now=now)
        self._collection.database[REDUCTION_RULE_REVISION_COLLECTION].replace_one(
            {"_id": revision}, kept.to_mongo(), upsert=True)

    def current(self) -> RuleSet:
        """The rules in use (one indexed read of the revision; the rules when it changed)."""
        head = self._collection.find_one({"_id": ACTIVE_RULES_ID}, {"revision": 1})
        if head is None or head.get("revision") == self.revision:
            return self.rules
        doc = self._collection.find_one({"_id": ACTIVE_RULES_ID}) or {}
        try:
            self.rules = RuleSet.model_validate({"rules": doc.get("rules", [])})
        except ValidationError as err:
            logger.error("reduction rules revision %s are not valid, keeping revision %s: %s",
                         doc.get("revision"), self.revision, err)
        else:
            if self.revision is not None:
                logger.info("reduction rules now at revision %s (%s)", doc.get("revision"), doc.get("updatedBy"))
        self.revision = head.get("revision")
        return self.rules

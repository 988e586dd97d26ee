"""Reduction rules: which pipeline runs for which datasets, with which parameters.

In the core because two sides read them: the workers (scireduce), which run what they
match, and the scan table's API, which shows them and lets an administrator change them
(the store keeps the revisioned set; YAML in config/reduction/ seeds it).
"""

from __future__ import annotations

import fnmatch
import operator
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The document of the store's rule set, in :data:`REDUCTION_RULES_COLLECTION`.
ACTIVE_RULES_ID: Final = "active"

_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class RuleCondition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, Field(description="A scientificMetadata key.")]
    op: Literal["==", "!=", "<", "<=", ">", ">="] = "=="
    value: Any


#: A key of scientificMetadata as stored (no dots, no "$": a path, never an operator).
_STORED_KEY = r"^[^.$\x00]{1,200}$"
#: The most scans one group reduction takes (and the most a group lookup reads).
MAX_GROUP_MEMBERS: Final = 500
#: How far back, beyond its quiet time, a worker looks for a group that has gone quiet: a
#: group whose newest scan is older than that (all workers stopped for a day) waits for a
#: person's rerun.
QUIET_HORIZON: Final = timedelta(days=1)


class GroupBy(BaseModel):
    """Several scans reduced as one: those of one proposal that share the values of ``keys``
    (e.g. the sample and a series id), once the group is complete: when it holds ``count`` scans,
    when one of them has a true ``last`` (the series' last scan), or when no scan has joined it
    for ``quiet_s`` seconds (its newest scan's ``creationTime``); whichever comes first."""

    model_config = ConfigDict(extra="forbid")

    keys: Annotated[list[Annotated[str, Field(pattern=_STORED_KEY)]], Field(min_length=1, max_length=5)]
    count: Annotated[int | None, Field(ge=2, le=MAX_GROUP_MEMBERS)] = None
    last: Annotated[str | None, Field(pattern=_STORED_KEY,
                                      description="A key whose true value marks a group's last scan.")] = None
    #: At most a week: the workers look for quiet groups among the scans of the last
    #: :data:`QUIET_HORIZON` beyond it.
    quiet_s: Annotated[float | None, Field(ge=1, le=7 * 86_400, allow_inf_nan=False)] = None

    @model_validator(mode="after")
    def _closes(self) -> GroupBy:
        if self.count is None and self.last is None and self.quiet_s is None:
            raise ValueError("a group needs a way to be complete: a count of scans, a 'last' key or a quiet time")
        return self

    def values(self, dataset: dict[str, Any]) -> dict[str, Any] | None:
        """The values a dataset shares with the rest of its group (None: it has not all keys)."""
        meta = dataset.get("scientificMetadata") or {}
        found = {key: _value(meta.get(key)) for key in self.keys}
        return None if any(v is None or isinstance(v, (dict, list)) for v in found.values()) else found

    def complete(self, members: list[dict[str, Any]], now: datetime | None = None) -> bool:
        """Whether these scans (the group as it is now, oldest first) make a complete group;
        a quiet time counts only with ``now``."""
        if self.count is not None and len(members) >= self.count:
            return True
        if self.last is not None and any(_value((m.get("scientificMetadata") or {}).get(self.last)) is True
                                         for m in members):
            return True
        newest = members[-1].get("creationTime") if members else None
        return (self.quiet_s is not None and now is not None and isinstance(newest, datetime)
                and newest <= now - timedelta(seconds=self.quiet_s))


def _value(entry: Any) -> Any:
    """A scientificMetadata entry's value ({"value": v, "unit": u} or v itself)."""
    return entry.get("value") if isinstance(entry, dict) else entry


class ReductionRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    pipeline: Annotated[str, Field(min_length=1, description="A registered pipeline, or module:attribute.")]
    beamline: str = "*"
    data_format: str = "*"
    file_pattern: str = "*"
    when: list[RuleCondition] = []
    params: dict[str, dict[str, Any]] = {}
    #: At most a day: a job's start time plus its timeout must stay a time.
    timeout_s: Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)] = 300.0
    #: The Python interpreter of another environment to run the job in (one with
    #: ``scizoo[reduce]`` and the pipeline's package installed: a facility's pinned
    #: reduction stack, say); empty: the worker's own.
    python: Annotated[str, Field(max_length=4096, description="Interpreter of the job's environment.")] = ""
    #: Reduce a group of scans together (one derived dataset of them all), not each scan alone.
    group: GroupBy | None = None

    @field_validator("name")
    @classmethod
    def _not_a_rerun_name(cls, name: str) -> str:
        if re.search(r"\.r[0-9]+$", name):
            raise ValueError("a rule's name must not end in .r<N>: that is how its reruns are named")
        return name

    def input_file(self, dataset: dict[str, Any], files: list[str]) -> str | None:
        """The file this rule reduces, if the finished dataset matches it at all."""
        meta = dataset.get("scientificMetadata") or {}
        if (meta.get("scan_status") or {}).get("value") != "finished" or dataset.get("type") != "raw":
            return None  # only finished raw scans trigger
        if not fnmatch.fnmatch(((dataset.get("instrumentIds") or [""])[0]), self.beamline):
            return None
        if not fnmatch.fnmatch(dataset.get("dataFormat", ""), self.data_format):
            return None
        for condition in self.when:
            value = _value(meta.get(condition.key))
            try:
                if value is None or not _OPS[condition.op](value, condition.value):
                    return None
            except TypeError:
                return None
        return next((f for f in files if fnmatch.fnmatch(Path(f).name, self.file_pattern)), None)


class ReductionRuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[ReductionRule] = []

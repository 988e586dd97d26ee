"""Reduction rules: which pipeline runs for which datasets, with which parameters.

In the core because two sides read them: the workers (scireduce), which run what they
match, and the scan table's API, which shows them and lets an administrator change them
(the store keeps the revisioned set; YAML in config/reduction/ seeds it).
"""

from __future__ import annotations

import fnmatch
import operator
import re
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: The document of the store's rule set, in :data:`REDUCTION_RULES_COLLECTION`.
ACTIVE_RULES_ID: Final = "active"

_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class RuleCondition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, Field(description="A scientificMetadata key.")]
    op: Literal["==", "!=", "<", "<=", ">", ">="] = "=="
    value: Any


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
            entry = meta.get(condition.key)
            value = entry.get("value") if isinstance(entry, dict) else entry
            try:
                if value is None or not _OPS[condition.op](value, condition.value):
                    return None
            except TypeError:
                return None
        return next((f for f in files if fnmatch.fnmatch(Path(f).name, self.file_pattern)), None)


class ReductionRuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[ReductionRule] = []

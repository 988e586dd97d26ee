"""Reduction jobs as the catalogue keeps them: the names of reruns and the rules of cancelling.

Shared by the workers (scireduce) and the scan table's API (scanlog_api), which queues a
rerun a worker then runs, and cancels; the store calls are each side's own.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

#: A job in one of these states may be cancelled: it is never taken again.
CANCELLABLE = ("queued", "failed")


def job_id(pid: str, rule_name: str) -> str:
    return f"{pid}#{rule_name}"


def rerun_pattern(rule_name: str) -> str:
    """A regex matching the names of the reruns of a rule ("<rule>.r<N>")."""
    return rf"^{re.escape(rule_name)}\.r[0-9]+$"


def base_rule(rule_name: str) -> str:
    """The rule a rerun came from ("p.r2" -> "p"); a rule's own name otherwise."""
    return re.sub(r"\.r[0-9]+$", "", rule_name)


def rerun_request(pid: str, rule_name: str, earlier: int, params: dict[str, dict[str, Any]], *,
                  requested_by: str, now: datetime) -> dict[str, Any]:
    """The queued job of a rerun asked for through the API: a worker takes it, merges
    ``params`` into the rule's own and runs it (or fails it with the reason)."""
    name = f"{rule_name}.r{earlier + 1}"
    return {"_id": job_id(pid, name), "datasetId": pid, "rule": name, "state": "queued", "attempt": 0,
            "requestedParams": params, "requestedBy": requested_by, "createdAt": now, "updatedAt": now}


def cancel_update(now: datetime) -> dict[str, Any]:
    return {"$set": {"state": "cancelled", "updatedAt": now, "endedAt": now}}

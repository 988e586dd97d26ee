"""The start-up check of a web service's store: one sentence when it does not answer."""

from __future__ import annotations

from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from scizoo.core import DependencyUnavailable, redact


def ping_store(uri: str, timeout_s: float, *, service: str, setting: str) -> None:
    """Ping with a probe client of its own: the short timeout is for this check, not for every request."""
    try:
        probe: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=int(timeout_s * 1000))
    except (PyMongoError, OSError, ValueError) as err:  # a malformed URI, a TLS file that is not there
        raise DependencyUnavailable(
            service=service, dependency="MongoDB", address=redact(uri), reason=f"the address cannot be used "
            f"({type(err).__name__})", hint=f"Check {setting}.") from None
    try:
        probe.admin.command("ping")
    except (PyMongoError, OSError) as err:
        raise DependencyUnavailable(
            service=service, dependency="MongoDB", address=redact(uri),
            reason=f"no server answered within {timeout_s:g} s ({type(err).__name__})",
            hint=f"Check {setting} and that the store is running and reachable.") from err
    finally:
        probe.close()

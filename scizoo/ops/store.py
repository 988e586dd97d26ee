"""The catalogue store's start-up check and readiness probe, for every service that has one.

A public submodule that ``scizoo.ops`` does not import, so that capture processes, which
use the metrics, do not pull in pymongo through it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from scizoo.core import DependencyUnavailable, redact


def ping_store(uri: str, timeout_s: float, *, service: str, setting: str) -> None:
    """Ping with a probe client of its own: the short timeout is for this check, not for every request.

    Raises :class:`DependencyUnavailable` (one sentence: which store, where, what to check).
    """
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


def store_problem(uri: str, *, service: str, setting: str, timeout_s: float = 2.0) -> Callable[[], str | None]:
    """A readiness check: None while the store answers, else the sentence saying why not."""

    def problem() -> str | None:
        try:
            ping_store(uri, timeout_s, service=service, setting=setting)
        except DependencyUnavailable as err:
            return str(err)
        return None

    return problem


def migrate_store(uri: str, database: str, *, timeout_s: float = 10.0) -> dict[str, int]:
    """Run the catalogue's migrations (:func:`scizoo.core.migrate_catalogue`) on ``database``;
    how many documents each rewrote. :class:`DependencyUnavailable` when the store does not answer."""
    from scizoo.core import migrate_catalogue

    ping_store(uri, timeout_s, service="scizoo catalogue", setting="--mongo-uri")
    client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
    try:
        return migrate_catalogue(client[database], force=True)
    finally:
        client.close()

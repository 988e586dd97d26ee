"""How ensure_collections takes a server's answer to a create it raced another service for.

The embedded store answers such a create with ok (tests/system/test_collections_first.py);
older MongoDB servers answer NamespaceExists (code 48), which no server here gives, so the
answer is given by a database of the test's own, with pymongo's own error.
"""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.errors import OperationFailure

from scizoo.core import ensure_collections


class _Answers:
    """A database that lists nothing and answers every create with ``code``."""

    def __init__(self, code: int) -> None:
        self.code = code
        self.asked: list[str] = []

    def list_collection_names(self, **_: Any) -> list[str]:
        return []

    def command(self, name: str, value: str) -> None:
        self.asked.append(value)
        raise OperationFailure(f"refused {name} {value}", code=self.code)


def test_namespace_exists_means_another_service_made_it_first() -> None:
    db = _Answers(48)
    ensure_collections(db, ["ScanlogRating", "ScanlogComment"])
    assert db.asked == ["ScanlogRating", "ScanlogComment"]  # each tried, none an error


def test_any_other_refusal_is_raised() -> None:
    with pytest.raises(OperationFailure, match="refused create ScanlogRating"):
        ensure_collections(_Answers(13), ["ScanlogRating"])  # Unauthorized

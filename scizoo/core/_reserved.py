"""The scientificMetadata keys capture writes itself: no configured friendly name may take one.

:func:`scientific_metadata` writes these next to the configured entries, in the same
dictionary; an entry named ``scan_status`` (or ``scan.status``, which is stored under the
same key) would overwrite the scan's status, and ``message_produced_at`` the ordering guard
that keeps an old replay from overwriting a newer scan. A test holds this set to what the
builder writes.
"""

from __future__ import annotations

from typing import Final

from ._documents import metadata_key

#: Keys of a scan's own metadata (its id, status, source, message, configuration, points,
#: duration, user, and when its message was produced).
RESERVED_METADATA_KEYS: Final = frozenset({
    "scan_id", "scan_status", "scan_source", "message_id", "config_name", "config_revision", "scan_points",
    "scan_duration", "scan_user", "message_produced_at",
})


def is_reserved_key(name: str) -> bool:
    """Whether a friendly name would be stored under one of the keys every scan records itself.

    Compared as stored: ``scan.status`` is reserved too (see :func:`metadata_key`). The scan's
    motor and channel keys (``motor_<label>``, ``channel_<label>``) depend on the scan, so they
    are not refused here (``channel_cut_pitch`` is an ordinary name): where one meets a
    configured entry, :func:`scientific_metadata` keeps the scan's and files the entry beside it.
    """
    return metadata_key(name) in RESERVED_METADATA_KEYS

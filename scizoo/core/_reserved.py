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
#: Prefixes of the scan's motor ranges and channel values (``motor_<label>``, ``channel_<label>``).
RESERVED_METADATA_PREFIXES: Final = ("motor_", "channel_")


def is_reserved_key(name: str) -> bool:
    """Whether a friendly name would be stored under a key that capture writes itself.

    Compared as stored: ``scan.status`` and ``motor$x`` are reserved too (see :func:`metadata_key`).
    """
    key = metadata_key(name)
    return key in RESERVED_METADATA_KEYS or key.startswith(RESERVED_METADATA_PREFIXES)

"""Message ids: made once, at capture, and the dataset pid is derived from them.

A replayed message must carry the same id, so each trigger derives its id from what
identifies the scan to it: Sardana's macro id, a file's path, or a fresh uuid for a
manual capture (made by the caller and passed in, like every id in scizoo).
"""

from __future__ import annotations

import hashlib
import uuid


def sardana_message_id(beamline: str, macro_id: str) -> str:
    """The id of a Sardana scan: the same for its "running" and its final message."""
    return f"{beamline}/sardana/{macro_id}"


def file_message_id(beamline: str, path: str) -> str:
    """One file, one dataset: the id comes from the file's path."""
    digest = hashlib.sha256(path.encode()).hexdigest()[:32]
    return f"{beamline}/scifly/{digest}"


def manual_message_id(beamline: str, token: uuid.UUID) -> str:
    """The id of a capture triggered by hand (demo, CLI); ``token`` is a fresh uuid4."""
    return f"{beamline}/manual/{token}"

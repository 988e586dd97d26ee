"""The Instrument a dataset names: one per beamline, as SciCat's backend keeps it.

A dataset says ``instrumentIds: [beamline]``; SciCat's pages and ``include=instruments``
look that id up as an Instrument's ``pid``, so without the document they find none.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, Field

from ._documents import _Written


class InstrumentDocument(_Written):
    """An Instrument in the backend's shape (``_id`` = ``pid``, ``uniqueName`` unique)."""

    id: Annotated[str, Field(alias="_id", min_length=1, description="Same as pid (the backend's rule).")]
    pid: Annotated[str, Field(min_length=1, description="What a dataset's instrumentIds hold: the beamline.")]
    uniqueName: Annotated[str, Field(min_length=1)]
    name: Annotated[str, Field(min_length=1)]
    customMetadata: dict[str, str] = Field(default_factory=dict)
    createdBy: str
    updatedBy: str
    createdAt: AwareDatetime
    updatedAt: AwareDatetime



def build_instrument(beamline: str, *, facility: str, user: str, now: datetime) -> InstrumentDocument:
    """The Instrument of a beamline: its pid, unique name and name are the beamline's id, which
    is what every dataset of it names (a facility renames it in SciCat if it wants)."""
    return InstrumentDocument(
        id=beamline, pid=beamline, uniqueName=beamline, name=beamline,
        customMetadata={"facility": facility} if facility else {},
        createdBy=user, updatedBy=user, createdAt=now, updatedAt=now,
    )

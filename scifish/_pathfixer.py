"""The PathFixer: the Tango device that says which proposal is running and where its data goes.

Read in one place for every trigger: the capture reads it with the scan's attributes
(one round trip), scifly polls it to follow the active data path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ._tango import Reading

#: The PathFixer's attributes, in the order they are read.
PROPOSAL_ATTRIBUTE = "proposal"
DATA_PATH_ATTRIBUTE = "data_path"


@dataclass(frozen=True)
class Where:
    """The proposal a scan belongs to and the folder its data is written to."""

    proposal_id: str
    data_path: str


#: Used when the PathFixer cannot be read: scicow then quarantines the dataset
#: (unknown proposal) instead of the scan being lost.
UNKNOWN = Where("unknown", "/unknown")


def pathfixer_attributes(device: str) -> list[tuple[str, str]]:
    """What to read from a PathFixer device."""
    return [(device, PROPOSAL_ATTRIBUTE), (device, DATA_PATH_ATTRIBUTE)]


@dataclass(frozen=True)
class PathFixerAnswer:
    """What the PathFixer said: where, and for each part it could not say, why."""

    proposal: str | None
    data_path: str | None
    proposal_error: str | None = None
    data_path_error: str | None = None

    @property
    def where(self) -> Where | None:
        """Both parts, or None when either is missing."""
        if self.proposal and self.data_path:
            return Where(self.proposal, self.data_path)
        return None

    def or_unknown(self) -> Where:
        """What is known, with the unknown parts filled by :data:`UNKNOWN`."""
        return Where(self.proposal or UNKNOWN.proposal_id, self.data_path or UNKNOWN.data_path)


def pathfixer_answer(device: str, readings: Mapping[tuple[str, str], Reading]) -> PathFixerAnswer:
    """Interpret the readings of :func:`pathfixer_attributes`."""
    proposal = readings[(device, PROPOSAL_ATTRIBUTE)]
    path = readings[(device, DATA_PATH_ATTRIBUTE)]

    def part(reading: Reading) -> tuple[str | None, str | None]:
        if reading.error:
            return None, reading.error
        if not reading.value:
            return None, "empty value"
        return str(reading.value), None

    proposal_value, proposal_error = part(proposal)
    path_value, path_error = part(path)
    return PathFixerAnswer(proposal_value, path_value, proposal_error, path_error)

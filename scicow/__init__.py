"""scicow: the ingestion consumer that fills the SciCat catalogue."""

from ._ingest import QUARANTINE_COLLECTION, AssignmentWatch, BatchResult, Ingestor, make_ingestor, run
from ._proposals import Lookup, ProposalLookup
from ._settings import ScicowSettings

__all__ = [
    "AssignmentWatch",
    "BatchResult",
    "Ingestor",
    "Lookup",
    "ProposalLookup",
    "QUARANTINE_COLLECTION",
    "ScicowSettings",
    "make_ingestor",
    "run",
]

"""scicow: the ingestion consumer that fills the SciCat catalogue.

Pure rules (:mod:`scicow._rules`: decode, plan, ordering guard), the catalogue writer
(:class:`CatalogueWriter`), the Ingestor that runs one batch through them, and the
consumer loop (:func:`run`).
"""

from ._assignment import AssignmentWatch
from ._consumer import open_producer, open_store, redrive, run
from ._errors import is_transient
from ._ingest import BatchResult, Ingestor, make_ingestor
from ._proposals import ProposalLookup
from ._rules import (
    Decoded,
    Lookup,
    Plan,
    RawRecord,
    Write,
    dataset_update,
    decode,
    not_newer_than,
    ownership_conflict,
    plan,
)
from ._settings import ScicowSettings
from ._writer import CatalogueWriter

__all__ = [
    "AssignmentWatch",
    "BatchResult",
    "CatalogueWriter",
    "Decoded",
    "Ingestor",
    "Lookup",
    "Plan",
    "ProposalLookup",
    "RawRecord",
    "ScicowSettings",
    "Write",
    "dataset_update",
    "decode",
    "is_transient",
    "make_ingestor",
    "not_newer_than",
    "open_producer",
    "open_store",
    "ownership_conflict",
    "plan",
    "redrive",
    "run",
]

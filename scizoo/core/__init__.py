"""scizoo's core: the message contract, SciCat document models and builders, catalogue names
and indexes, ids, units, configuration models, topics and errors.

The bottom layer: it imports no client (pytango, kafka, pymongo, requests, fastapi) and no
deployable; import-linter checks both.
"""

from ._catalogue import (
    ACTIVE_CONFIGURATION_COLLECTION,
    ATTACHMENT_COLLECTION,
    COMMENT_COLLECTION,
    CONFIGURATION_COLLECTION,
    CONFIGURATION_REVISION_COLLECTION,
    DATASET_COLLECTION,
    ELOG_ENTRY_COLLECTION,
    INDEXES,
    ORIG_DATABLOCK_COLLECTION,
    PROPOSAL_COLLECTION,
    QUARANTINE_COLLECTION,
    RATING_COLLECTION,
    ensure_indexes,
)
from ._config import (
    AttributeConfig,
    BeamlineConfig,
    apply_mapping,
    dump_beamline_config,
    load_beamline_config,
    parse_beamline_config,
)
from ._documents import (
    CatalogueSettings,
    DatasetDocument,
    OrigDatablockDocument,
    Proposal,
    build_dataset,
    build_orig_datablock,
    dataset_pid,
    metadata_key,
)
from ._errors import ConfigError, DependencyUnavailable, ScizooError, ServiceStartError, redact
from ._ids import file_message_id, manual_message_id, sardana_message_id
from ._messages import (
    MESSAGE_MODELS,
    SCHEMA_VERSION,
    DataFile,
    DatasetIngested,
    DeadLetter,
    RecordedEntry,
    ScanBlock,
    ScanColumn,
    ScanMetadata,
)
from ._schemas import SCHEMA_DIR, schema_documents
from ._service import EXIT_UNAVAILABLE, clear_failure, configure_logging, run_service, until_stopped
from ._topics import beamline_topic, dead_letter_topic, events_topic, topic_pattern
from ._units import to_si

__all__ = [
    "ACTIVE_CONFIGURATION_COLLECTION",
    "ATTACHMENT_COLLECTION",
    "COMMENT_COLLECTION",
    "CONFIGURATION_COLLECTION",
    "CONFIGURATION_REVISION_COLLECTION",
    "DATASET_COLLECTION",
    "ELOG_ENTRY_COLLECTION",
    "EXIT_UNAVAILABLE",
    "INDEXES",
    "MESSAGE_MODELS",
    "ORIG_DATABLOCK_COLLECTION",
    "PROPOSAL_COLLECTION",
    "QUARANTINE_COLLECTION",
    "RATING_COLLECTION",
    "SCHEMA_DIR",
    "SCHEMA_VERSION",
    "AttributeConfig",
    "BeamlineConfig",
    "CatalogueSettings",
    "ConfigError",
    "DataFile",
    "DatasetDocument",
    "DatasetIngested",
    "DeadLetter",
    "DependencyUnavailable",
    "OrigDatablockDocument",
    "Proposal",
    "RecordedEntry",
    "ScanBlock",
    "ScanColumn",
    "ScanMetadata",
    "ScizooError",
    "ServiceStartError",
    "apply_mapping",
    "beamline_topic",
    "build_dataset",
    "build_orig_datablock",
    "clear_failure",
    "configure_logging",
    "dataset_pid",
    "dead_letter_topic",
    "dump_beamline_config",
    "ensure_indexes",
    "events_topic",
    "file_message_id",
    "load_beamline_config",
    "manual_message_id",
    "metadata_key",
    "parse_beamline_config",
    "redact",
    "run_service",
    "sardana_message_id",
    "schema_documents",
    "to_si",
    "topic_pattern",
    "until_stopped",
]

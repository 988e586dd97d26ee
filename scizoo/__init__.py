"""scizoo's dependency-free core: the message contract, configuration, SciCat documents, units.

Nothing here imports pytango, kafka or pymongo (import-linter checks it).
"""

from ._config import AttributeConfig, BeamlineConfig, apply_mapping, load_beamline_config
from ._embedded import EmbeddedKafka, EmbeddedMongo, free_port
from ._errors import ConfigError, ScizooError, ServiceStartError
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
from ._scicat import (
    DATASET_COLLECTION,
    ORIG_DATABLOCK_COLLECTION,
    PROPOSAL_COLLECTION,
    CatalogueSettings,
    Proposal,
    build_dataset,
    build_orig_datablock,
    dataset_pid,
    metadata_key,
)
from ._topics import beamline_topic, dead_letter_topic, events_topic, topic_pattern
from ._units import to_si

__all__ = [
    "AttributeConfig",
    "BeamlineConfig",
    "CatalogueSettings",
    "ConfigError",
    "DATASET_COLLECTION",
    "DataFile",
    "DatasetIngested",
    "DeadLetter",
    "EmbeddedKafka",
    "EmbeddedMongo",
    "MESSAGE_MODELS",
    "ORIG_DATABLOCK_COLLECTION",
    "PROPOSAL_COLLECTION",
    "Proposal",
    "RecordedEntry",
    "SCHEMA_VERSION",
    "ScanBlock",
    "ScanColumn",
    "ScanMetadata",
    "ScizooError",
    "ServiceStartError",
    "apply_mapping",
    "beamline_topic",
    "dead_letter_topic",
    "events_topic",
    "build_dataset",
    "build_orig_datablock",
    "dataset_pid",
    "free_port",
    "load_beamline_config",
    "metadata_key",
    "to_si",
    "topic_pattern",
]

"""Settings of a fixity worker (env prefix SCIFIX_)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scizoo.core import KafkaConnection


class ScifixSettings(KafkaConnection, BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCIFIX_")

    topic_prefix: str = "scizoo"
    #: Its own consumer group on the "dataset ingested" events, beside scireduce's: each group
    #: reads every event.
    group_id: str = "scifix"
    mongo_uri: SecretStr = SecretStr("mongodb://localhost:27017")
    database: str = "scicat"
    #: The algorithm of new checksums (SciCat's ``chkAlg``; any name hashlib computes). blake2b
    #: (512 bits, hex) is what scitacean and ESS's ingestor write and what ``b2sum`` prints; a
    #: datablock that already names an algorithm keeps its own (see docs/architecture.md).
    algorithm: str = "blake2b"
    #: The folders whose files may be read. A datablock's path is data, not trust: a file outside
    #: every root (after resolving links) is never opened, and is flagged. Empty: nothing is read.
    data_roots: list[Path] = []
    #: Bytes per second one worker reads at most (a token bucket; 0: unbounded), so checksumming
    #: a 100 GB detector file never starves the beamline's own writes on the same storage.
    read_rate: int = Field(default=200 * 1024 * 1024, ge=0)
    #: Bytes read per call (and the bucket's burst).
    chunk_bytes: int = Field(default=1024 * 1024, ge=4096)
    #: A file's modification time may differ this much from the catalogue's before it counts as
    #: changed: BSON keeps milliseconds, network file systems and some capture paths round.
    time_tolerance_s: float = Field(default=1.0, ge=0)
    #: Published datasets are read again this often and their checksums compared (0: never).
    reverify_interval_s: float = Field(default=30 * 24 * 3600.0, ge=0)
    #: How often the worker looks for published datasets due, between events.
    reverify_check_s: float = Field(default=60.0, gt=0)
    #: How long the store and the broker may take to answer at start before the worker gives up
    #: (one sentence, exit code 2).
    connect_timeout_s: float = Field(default=10.0, gt=0)
    max_poll_interval_ms: int = 300_000
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    poll_timeout_ms: int = 500
    #: While a long file is read, the worker polls its (paused) consumer this often, so the group
    #: does not take it for dead (max_poll_interval_ms) in the middle of a 100 GB file.
    keepalive_s: float = Field(default=5.0, gt=0)
    #: Port of /healthz, /readyz and /metrics (Prometheus); unset: not served.
    health_port: int | None = None

    @field_validator("algorithm")
    @classmethod
    def _known_algorithm(cls, value: str) -> str:
        name = value.strip().lower()
        if name not in hashlib.algorithms_available or name.startswith("shake"):
            raise ValueError(f"{value!r} is not a checksum hashlib computes here (e.g. blake2b, sha256)")
        return name

"""Settings of the scicow ingestion service (env prefix SCICOW_)."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from scizoo.core import CatalogueSettings, KafkaConnection


class ScicowSettings(KafkaConnection, BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCICOW_")

    topic_prefix: str = "scizoo"
    group_id: str = "scicow"
    mongo_uri: SecretStr = SecretStr("mongodb://localhost:27017")
    database: str = "scicat"
    #: MongoDB write concern: an offset is committed only once the store acknowledged the
    #: batch this way. "majority" + journal survives the loss of the primary; MAX IV runs
    #: w=1 on two members and an arbiter, for availability (see the README's trade-off).
    write_concern_w: int | str = "majority"
    write_concern_j: bool = True
    user_office_url: str | None = None
    user_office_token: SecretStr | None = None
    pid_prefix: str = "20.500.12345"
    source_folder_host: str = ""
    facility: str = ""
    #: A dataset's contactEmail when its proposal names no email (SciCat requires one).
    contact_email: str = ""
    #: beamline -> group given read access to each of its datasets
    staff_groups: dict[str, str] = {}
    #: Partitions and replication factor of the topics scicow creates when missing: its dead
    #: letters and events, and the ``<prefix>.<beamline>`` topic of each of ``beamlines``.
    topic_partitions: int = 4
    topic_replication: int = 1
    beamlines: list[str] = []
    #: Port of /healthz, /readyz and /metrics (Prometheus); unset: not served.
    health_port: int | None = None
    batch_max: int = 500
    #: How long a start waits for the store or the broker to answer before saying it cannot reach it.
    connect_timeout_s: float = 10.0
    poll_timeout_ms: int = 200
    quarantine_retry_s: float = 30.0
    proposal_cache_ttl_s: float = 300.0
    proposal_miss_ttl_s: float = 5.0
    # Consumer-group timing; tests shrink these because a group join waits for them.
    max_poll_interval_ms: int = 300_000
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000

    def catalogue(self) -> CatalogueSettings:
        return CatalogueSettings(
            pid_prefix=self.pid_prefix,
            source_folder_host=self.source_folder_host,
            facility=self.facility,
            contact_email=self.contact_email,
            staff_groups=dict(self.staff_groups),
        )

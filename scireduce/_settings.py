"""Settings of a reduction worker (env prefix SCIREDUCE_)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scizoo.core import KafkaConnection


class ScireduceSettings(KafkaConnection, BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCIREDUCE_")

    topic_prefix: str = "scizoo"
    #: One consumer group: more workers, more throughput (up to the events topic's partitions).
    group_id: str = "scireduce"
    mongo_uri: SecretStr = SecretStr("mongodb://localhost:27017")
    database: str = "scicat"
    rules_file: Path = Path("config/reduction/rules.yaml")
    #: The cache of step results and the folders of the outputs.
    work_dir: Path = Path("/var/lib/scireduce")
    cache_max_bytes: int = 256 * 1024 * 1024
    pid_prefix: str = "20.500.12345"
    #: A job still "running" this long after its rule's timeout belongs to a worker that died
    #: (its own worker kills it at the timeout); another worker takes it over, looking every
    #: ``sweep_interval_s``.
    stale_after_s: float = 60.0
    sweep_interval_s: float = 30.0
    max_poll_interval_ms: int = 600_000
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    poll_timeout_ms: int = 500
    worker_id: str = ""
    #: Rules may be edited through the scan table's API, so what a rule may make a worker run
    #: is the worker's to allow: pipelines given as ``module:attribute`` (not registered
    #: through the ``scizoo.pipelines`` entry points) only when this is true, and another
    #: environment's interpreter (a rule's ``python``) only when it is listed here.
    module_pipelines: bool = False
    pythons: list[str] = []
    #: Port of /healthz, /readyz and /metrics (Prometheus); unset: not served.
    health_port: int | None = None
    # Where jobs run (issue 22): "subprocess" on this worker, or "dask" as tasks on the Dask
    # scheduler at ``dask_scheduler`` (its workers need the `reduce` and `dask` extras).
    runner: Literal["subprocess", "dask"] = "subprocess"
    dask_scheduler: str = ""
    #: How long beyond a rule's timeout a job's result may take on Dask (queued on a busy
    #: cluster, run again after a lost worker) before the job fails this attempt.
    dask_wait_s: Annotated[float, Field(gt=0)] = 300.0
    dask_connect_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    #: TLS to a ``tls://`` scheduler, with a client certificate (a scheduler runs what its clients send).
    dask_tls_ca_file: Path | None = None
    dask_tls_cert_file: Path | None = None
    dask_tls_key_file: Path | None = None

    @property
    def takeover_after_s(self) -> float:
        """How long past its rule's timeout a "running" job is presumed to have lost its worker:
        ``stale_after_s``, and with the Dask runner ``dask_wait_s`` more (a live worker may wait
        that long for its job to start on a busy cluster: taken over sooner, it would run twice)."""
        return self.stale_after_s + (self.dask_wait_s if self.runner == "dask" else 0.0)

    @model_validator(mode="after")
    def _dask_is_complete(self) -> ScireduceSettings:
        if self.runner == "dask" and not self.dask_scheduler.strip():
            raise ValueError("SCIREDUCE_RUNNER=dask needs SCIREDUCE_DASK_SCHEDULER, the scheduler's address "
                             "(e.g. tcp://dask-scheduler:8786)")
        tls = (self.dask_tls_ca_file, self.dask_tls_cert_file, self.dask_tls_key_file)
        if self.dask_scheduler.startswith("tls://") and not all(tls):
            raise ValueError("a tls:// Dask scheduler needs SCIREDUCE_DASK_TLS_CA_FILE, SCIREDUCE_DASK_TLS_CERT_FILE "
                             "and SCIREDUCE_DASK_TLS_KEY_FILE")
        if any(tls) and not self.dask_scheduler.startswith("tls://"):
            raise ValueError("SCIREDUCE_DASK_TLS_* are set but SCIREDUCE_DASK_SCHEDULER is not a tls:// address: "
                             "the connection would not be encrypted")
        return self

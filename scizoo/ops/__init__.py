"""What every long-running service exposes to operators: health, readiness, Prometheus metrics.

No web framework here (the consumers import it): the web apps mount the same checks as routes.
"""

from ._health import (
    BATCH_WRITE,
    CAPTURE_ERRORS,
    CONSUMER_LAG,
    DEAD_LETTERS,
    HTTP_REQUEST,
    LIVE_STREAMS,
    MESSAGES_CONSUMED,
    MESSAGES_INGESTED,
    QUARANTINED,
    REDUCTION_JOBS,
    SPOOL_DEPTH,
    HealthServer,
    Readiness,
    broker_problem,
    first_problem,
)

__all__ = [
    "BATCH_WRITE",
    "CAPTURE_ERRORS",
    "CONSUMER_LAG",
    "DEAD_LETTERS",
    "HTTP_REQUEST",
    "LIVE_STREAMS",
    "MESSAGES_CONSUMED",
    "MESSAGES_INGESTED",
    "QUARANTINED",
    "REDUCTION_JOBS",
    "SPOOL_DEPTH",
    "HealthServer",
    "Readiness",
    "broker_problem",
    "first_problem",
]

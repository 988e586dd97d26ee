"""Kafka topic names (one topic per beamline, ``<prefix>.<beamline>``) and how to connect."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, SecretStr, model_validator


def beamline_topic(prefix: str, beamline: str) -> str:
    """The topic a beamline's scan messages go to."""
    return f"{prefix}.{beamline}"


def topic_pattern(prefix: str) -> str:
    """A regex matching every beamline topic of ``prefix`` and nothing else.

    The dead-letter and event topics are named ``<prefix>-...`` so the pattern never
    subscribes scicow to its own output.
    """
    return rf"^{re.escape(prefix)}\.[A-Za-z0-9_-]+$"


def dead_letter_topic(prefix: str) -> str:
    return f"{prefix}-deadletter"


def events_topic(prefix: str) -> str:
    return f"{prefix}-ingested"


SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaConnection(BaseModel):
    """How a service reaches Kafka; every service's settings have these (``<PREFIX>_KAFKA_*``).

    PLAINTEXT on one machine (the demo, the tests); at a facility SASL_SSL, with the
    credentials from a Kubernetes Secret (the Helm chart sets these variables).
    """

    kafka_bootstrap: str = "localhost:9092"
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    #: The CA that signed the brokers' certificates (SSL, SASL_SSL); unset: the system's.
    kafka_ssl_cafile: Path | None = None

    @model_validator(mode="after")
    def _sasl_has_credentials(self) -> Self:
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_username and self.kafka_sasl_password and self.kafka_sasl_password.get_secret_value()
        ):
            raise ValueError(f"security protocol {self.kafka_security_protocol} needs KAFKA_SASL_USERNAME and "
                             "KAFKA_SASL_PASSWORD (with the service's prefix)")
        return self

    def kafka_security(self) -> dict[str, Any]:
        """The security keyword arguments of a kafka-python client (producer, consumer, admin)."""
        config: dict[str, Any] = {"security_protocol": self.kafka_security_protocol}
        if self.kafka_security_protocol.startswith("SASL"):
            assert self.kafka_sasl_password is not None  # checked by the validator
            config |= {"sasl_mechanism": self.kafka_sasl_mechanism, "sasl_plain_username": self.kafka_sasl_username,
                       "sasl_plain_password": self.kafka_sasl_password.get_secret_value()}
        if self.kafka_ssl_cafile is not None:
            config["ssl_cafile"] = str(self.kafka_ssl_cafile)
        return config

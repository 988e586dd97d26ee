"""Every service reaches a production Kafka the same way: SASL/SSL from its settings."""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaTimeoutError
from pydantic import ValidationError

from scicow import ScicowSettings
from scifly import SciflySettings
from scireduce import ScireduceSettings
from scizoo.testing import free_port


def test_sasl_ssl_settings_come_from_each_services_environment(monkeypatch, tmp_path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("not read here")
    for prefix in ("SCICOW", "SCIREDUCE", "SCIFLY"):
        monkeypatch.setenv(f"{prefix}_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
        monkeypatch.setenv(f"{prefix}_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
        monkeypatch.setenv(f"{prefix}_KAFKA_SASL_USERNAME", f"{prefix.lower()}-user")
        monkeypatch.setenv(f"{prefix}_KAFKA_SASL_PASSWORD", "s3cret")
        monkeypatch.setenv(f"{prefix}_KAFKA_SSL_CAFILE", str(ca))
    for settings, user in ((ScicowSettings(), "scicow-user"), (ScireduceSettings(), "scireduce-user"),
                           (SciflySettings(), "scifly-user")):
        assert settings.kafka_security() == {
            "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-256", "sasl_plain_username": user,
            "sasl_plain_password": "s3cret", "ssl_cafile": str(ca)}
        assert "s3cret" not in repr(settings)


def test_plaintext_is_the_default_and_sends_no_credentials() -> None:
    assert ScicowSettings().kafka_security() == {"security_protocol": "PLAINTEXT"}


def test_sasl_without_credentials_is_refused_with_the_variables_to_set(monkeypatch) -> None:
    monkeypatch.setenv("SCICOW_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    with pytest.raises(ValidationError, match="needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"):
        ScicowSettings()
    monkeypatch.setenv("SCICOW_KAFKA_SECURITY_PROTOCOL", "SASL_TLS")  # not a protocol
    with pytest.raises(ValidationError, match="SASL_SSL"):
        ScicowSettings()


@pytest.mark.parametrize("client", [KafkaProducer, KafkaConsumer, KafkaAdminClient])
def test_kafka_python_takes_the_settings_as_they_are(client, monkeypatch) -> None:
    """kafka-python refuses a configuration key it does not know; these it takes, and then
    looks for a broker (none listens here)."""
    monkeypatch.setenv("SCICOW_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("SCICOW_KAFKA_SASL_USERNAME", "u")
    monkeypatch.setenv("SCICOW_KAFKA_SASL_PASSWORD", "p")
    settings = ScicowSettings(kafka_bootstrap=f"127.0.0.1:{free_port()}")
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):  # not "Unrecognized configs"
        client(bootstrap_servers=settings.kafka_bootstrap, **settings.kafka_security(), bootstrap_timeout_ms=300)

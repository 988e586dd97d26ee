"""Errors shared by every scizoo package."""

from __future__ import annotations

import re


class ScizooError(Exception):
    """Base of every error scizoo raises on purpose."""


class ConfigError(ScizooError):
    """A configuration file or setting is invalid."""


class ServiceStartError(ScizooError):
    """A service (embedded or ours) did not start."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service} did not start: {reason}")
        self.service = service
        self.reason = reason


class DependencyUnavailable(ScizooError):
    """A service cannot reach something it needs (Kafka, MongoDB, Tango, an HTTP service).

    The message is one sentence a person can act on: which service, which dependency, at
    which address, what to check. The address never carries a secret (see :func:`redact`).
    """

    def __init__(self, *, service: str, dependency: str, address: str, reason: str, hint: str = "") -> None:
        text = f"{service} cannot reach {dependency} at {address}: {reason}"
        super().__init__(f"{text}. {hint}".rstrip() if hint else text)
        self.service = service
        self.dependency = dependency
        self.address = address
        self.reason = reason
        self.hint = hint


_SECRET_OPTION = re.compile(r"(?i)([?&;][^=&;]*(?:password|secret|token|key)[^=&;]*=)[^&;]*")


def redact(uri: str) -> str:
    """A URI with its password, and every option that holds a secret (e.g. MongoDB's
    ``tlsCertificateKeyFilePassword``), replaced: fit for a log line or an error message."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return _SECRET_OPTION.sub(r"\1***", uri)
    # The credentials end at the last '@' before the path or query ('@' may appear in a query).
    authority, slash, tail = rest.partition("/")
    if not slash:
        authority, question, tail = rest.partition("?")
        slash = "?" if question else ""
    creds, at, host = authority.rpartition("@")
    if at:
        authority = f"{creds.split(':', 1)[0]}:***@{host}"
    query = _SECRET_OPTION.sub(r"\1***", slash + tail)[len(slash):]
    return f"{scheme}://{authority}{slash}{query}"

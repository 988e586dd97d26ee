"""Errors shared by every scizoo package."""

from __future__ import annotations


class ScizooError(Exception):
    """Base of every error scizoo raises on purpose."""


class ConfigError(ScizooError):
    """A configuration file or setting is invalid."""


class ServiceStartError(ScizooError):
    """An embedded service did not start."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service} did not start: {reason}")
        self.service = service
        self.reason = reason

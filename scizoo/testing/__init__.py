"""Stand-ins for the services a facility runs: for the demo and the tests, never at runtime.

An embedded Kafka-compatible broker (tansu) and MongoDB-compatible store (SecantusDB),
each in its own process, and a small HTTP user office. import-linter forbids every
runtime module to import this package. The simulated Tango beamline is in
:mod:`scifish.testing`.
"""

from ._embedded import EmbeddedKafka, EmbeddedMongo, free_port
from ._useroffice import JsonHandler, UserOffice

__all__ = ["EmbeddedKafka", "EmbeddedMongo", "JsonHandler", "UserOffice", "free_port"]

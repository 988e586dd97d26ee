"""Stand-ins for the services a facility runs: for the demo and the tests, never at runtime.

An embedded Kafka-compatible broker (tansu) and MongoDB-compatible store (SecantusDB),
each in its own process, a small HTTP user office, and a DataCite stand-in. import-linter forbids every
runtime module to import this package. The simulated Tango beamline is in
:mod:`scifish.testing`.
"""

from ._datacite import DataCiteStandIn
from ._embedded import EmbeddedKafka, EmbeddedMongo, free_port
from ._nexus import write_scan_nexus
from ._useroffice import JsonHandler, UserOffice

__all__ = ["DataCiteStandIn", "EmbeddedKafka", "EmbeddedMongo", "JsonHandler", "UserOffice", "free_port",
           "write_scan_nexus"]

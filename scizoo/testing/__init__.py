"""Stand-ins for the services a facility runs: for the demo and the tests, never at runtime.

An embedded Kafka-compatible broker (tansu) and MongoDB-compatible store (SecantusDB),
each in its own process, a small HTTP user office, and a DataCite stand-in. import-linter forbids every
runtime module to import this package. The simulated Tango beamline is in
:mod:`scifish.testing`; the NeXus scan files the demo's beamline writes in
:mod:`scizoo.testing.nexus` and the demo's beamline at work in :mod:`scizoo.testing.beamline` (not imported
here: they need h5py, which capture machines lack).
"""

from ._datacite import DataCiteStandIn
from ._embedded import EmbeddedKafka, EmbeddedMongo, free_port
from ._useroffice import JsonHandler, UserOffice

__all__ = ["DataCiteStandIn", "EmbeddedKafka", "EmbeddedMongo", "JsonHandler", "UserOffice", "free_port"]

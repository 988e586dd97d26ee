"""scidog: beamline staff choose what every scan records, in a web editor over the Tango database.

Configurations per beamline in MongoDB, each save a revision (409 when made from a stale
one), one active configuration per beamline, YAML import and export; scifish captures
with the active one. The routes use the store and the control system through small
interfaces (``_ports``: ``ConfigStore`` on MongoDB, ``TangoBrowser``), the operations above
any store in ``_configs``; in-memory ones for tests in :mod:`scidog.testing`.
"""

from ._app import create_app
from ._diff import diff
from ._settings import ScidogSettings
from ._store import ConfigStore
from ._tango import TangoBrowser, TangoUnavailable
from ._validate import problems

__all__ = ["ConfigStore", "ScidogSettings", "TangoBrowser", "TangoUnavailable", "create_app", "diff", "problems"]

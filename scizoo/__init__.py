"""scizoo: scan metadata capture and SciCat catalogue ingestion for beamlines.

The packages, top to bottom (import-linter's layers contract keeps imports running down):

- :mod:`scizoo.cli` and :mod:`scizoo.demo`: the umbrella ``scizoo`` command and the demo;
- :mod:`scifly`: the file watcher, over scifish;
- :mod:`scifish`, :mod:`scicow`, :mod:`scanlog_api`, :mod:`scidog`: the deployables;
- :mod:`scizoo.core`: messages, documents, catalogue, ids, units, configuration, errors.

Beside them, :mod:`scizoo.testing` and :mod:`scifish.testing` hold the stand-ins.
"""

from importlib.metadata import version as _version

#: The installed distribution's version: pyproject.toml is its one source (the chart's
#: appVersion is checked against it by tests/unit/test_version.py).
__version__ = _version("scizoo")

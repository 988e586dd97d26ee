"""scizoo: scan metadata capture and SciCat catalogue ingestion for beamlines.

The packages, top to bottom (import-linter's layers contract keeps imports running down):

- :mod:`scizoo.cli` and :mod:`scizoo.demo`: the umbrella ``scizoo`` command and the demo;
- :mod:`scifly`: the file watcher, over scifish;
- :mod:`scifish`, :mod:`scicow`, :mod:`scanlog_api`, :mod:`scidog`: the deployables;
- :mod:`scizoo.core`: messages, documents, catalogue, ids, units, configuration, errors.

Beside them, :mod:`scizoo.testing` and :mod:`scifish.testing` hold the stand-ins.
"""

__version__ = "0.1.0"

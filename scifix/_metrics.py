"""The fixity worker's Prometheus metrics (served at /metrics by :class:`scizoo.ops.HealthServer`,
which exposes the default registry, like scicow's and scireduce's)."""

from __future__ import annotations

from prometheus_client import Counter

#: Every file looked at, by outcome (done, restored, computed, verified, changed, gone, ...).
FIXITY_FILES = Counter("scizoo_fixity_files", "Files the fixity worker looked at, by outcome.", ["outcome"])
#: Files that flag their dataset, by kind; ``kind="mismatch"`` is the alert (a file whose
#: checksum is no longer the recorded one).
FIXITY_PROBLEMS = Counter("scizoo_fixity_problems", "Files flagged by the fixity worker, by kind.", ["kind"])
FIXITY_BYTES = Counter("scizoo_fixity_bytes_read", "Bytes the fixity worker read for checksums.")

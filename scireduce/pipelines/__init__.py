"""The pipelines scizoo ships (a facility registers its own through the ``scizoo.pipelines``
entry-point group, a ``Pipeline`` object per entry): ``profile`` reduces one scan, ``stitch``
the scans of a group (a rule with ``group``)."""

from ._profile import PROFILE
from ._stitch import STITCH

__all__ = ["PROFILE", "STITCH"]

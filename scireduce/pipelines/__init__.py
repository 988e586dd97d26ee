"""The pipelines scizoo ships (a facility registers its own through the ``scizoo.pipelines``
entry-point group, a ``Pipeline`` object per entry)."""

from ._profile import PROFILE

__all__ = ["PROFILE"]

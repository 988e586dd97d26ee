"""Who may do what in scidog: any signed-in user reads; the beamline's staff and admins write."""

from __future__ import annotations

from scizoo.web import TokenUser

from ._errors import Forbidden


def can_edit(user: TokenUser, beamline: str, staff_groups: dict[str, str]) -> bool:
    """Admins, and members of the beamline's staff group (from settings)."""
    group = staff_groups.get(beamline)
    return user.admin or (group is not None and group in user.groups)


def check_edit(user: TokenUser, beamline: str, staff_groups: dict[str, str]) -> None:
    if not can_edit(user, beamline, staff_groups):
        raise Forbidden(f"only {beamline}'s staff ({staff_groups.get(beamline, 'none configured')}) "
                        "and admins change its configurations")

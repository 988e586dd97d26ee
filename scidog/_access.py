"""Who may do what in scidog.

- Any signed-in user reads configurations, their revisions and the active one.
- The beamline's staff (its group in ``staff_groups``) and admins change them.
- Staff of any beamline (and admins) browse the Tango database and read device attributes
  and values: the editor's type-ahead and preview. A device is not a beamline's, so a
  beamline's staff see the same control system as every other beamline's; people who are
  no beamline's staff never make scidog talk to the control system.
"""

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


def is_staff(user: TokenUser, staff_groups: dict[str, str]) -> bool:
    """Admins, and members of any beamline's staff group."""
    return user.admin or bool(set(staff_groups.values()) & set(user.groups))


def check_staff(user: TokenUser, staff_groups: dict[str, str], what: str) -> None:
    if not is_staff(user, staff_groups):
        raise Forbidden(f"only beamline staff and admins {what}")

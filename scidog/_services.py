"""scidog's app state, typed: the store, the control system, who signs in, who edits.

It *is* ``app.state`` (a Starlette ``State`` with declared attributes): the routes'
dependencies read typed fields, and an app can be built over the in-memory parts of
:mod:`scidog.testing` by handing them to the factory.
"""

from __future__ import annotations

from starlette.datastructures import State

from scizoo.web import Authenticator

from ._ports import Configs, ControlSystem


class Services(State):
    """What scidog's routes use; set as ``app.state`` by :func:`~scidog.create_app`."""

    store: Configs
    browser: ControlSystem
    auth: Authenticator
    #: Beamline -> the staff group that edits its configurations.
    staff_groups: dict[str, str]

    def __init__(self, *, store: Configs, browser: ControlSystem, auth: Authenticator,
                 staff_groups: dict[str, str]) -> None:
        super().__init__({"store": store, "browser": browser, "auth": auth, "staff_groups": dict(staff_groups)})

"""An app's typed state, as its routes read it."""

from __future__ import annotations

from typing import TypeVar

from starlette.datastructures import State
from starlette.requests import Request

StateT = TypeVar("StateT", bound=State)


def app_state(request: Request, kind: type[StateT]) -> StateT:
    """``request.app.state`` as the app's own typed state class (its factory sets it);
    a route mounted in an app its factory did not make is a programming error."""
    state = request.app.state
    if not isinstance(state, kind):
        raise TypeError(f"a route of {kind.__module__.split('.')[0]} in an app its create_app did not make")
    return state

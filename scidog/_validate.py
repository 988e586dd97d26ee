"""A configuration checked against the control system: what a person has to correct, field by field."""

from __future__ import annotations

from typing import Any

from scizoo.core import BeamlineConfig

from ._ports import ControlSystem
from ._tango import TangoUnavailable, device_problem


def problems(config: BeamlineConfig, browser: ControlSystem) -> list[dict[str, str]]:
    """Devices not of the configured Tango database (a host, port or other database in the name),
    unknown devices, attributes a running device does not have, mappings on non-scalar attributes.

    A device that is defined but not running cannot say what attributes it has: its entries
    are not refused for that (the capture will record the device's error).
    """
    found: list[dict[str, str]] = []
    attributes: dict[str, dict[str, dict[str, Any]] | None] = {}
    for i, entry in enumerate(config.attributes):
        where = f"attributes.{i}"
        refused = device_problem(entry.device)
        if refused:
            found.append({"field": f"{where}.device", "message": f"{entry.name}: {refused}"})
            continue
        if entry.device not in attributes:
            if not browser.known(entry.device):
                attributes[entry.device] = None
            else:
                try:
                    attributes[entry.device] = {a["name"].lower(): a for a in browser.attributes(entry.device)}
                except TangoUnavailable:
                    attributes[entry.device] = {}
        known = attributes[entry.device]
        if known is None:
            found.append({"field": f"{where}.device",
                          "message": f"{entry.name}: no device {entry.device!r} in the Tango database"})
            continue
        if not known:
            continue  # defined, not running: nothing more to check now
        info = known.get(entry.attribute.lower())
        if info is None:
            found.append({"field": f"{where}.attribute",
                          "message": f"{entry.name}: {entry.device} has no attribute {entry.attribute!r}"})
        elif entry.mapping and not info["scalar"]:
            found.append({"field": f"{where}.mapping",
                          "message": f"{entry.name}: a mapping needs a scalar attribute; "
                                     f"{entry.device}/{entry.attribute} is {info['format']}"})
    return found

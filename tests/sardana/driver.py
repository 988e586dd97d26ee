"""Drives a Door from its own process (taurus keeps threads and global state; pytest should not host them).

Usage: python -m tests.sardana.driver DOOR JSON
JSON: {"env": {...}, "macros": [[name, [args...]], ...]}. Prints one JSON line per macro
with the Door's state and the macro's wall time, and exits 1 if a macro did not end normally.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> int:
    import taurus
    from sardana.taurus.core.tango.sardana import registerExtensions

    registerExtensions()
    door_name, plan = sys.argv[1], json.loads(sys.argv[2])
    door = taurus.Device(door_name)
    if plan.get("env"):
        door.putEnvironments(plan["env"])
    ok = True
    for name, args in plan.get("macros", []):
        start = time.monotonic()
        door.runMacro(name, args, synch=True)
        seconds = time.monotonic() - start
        state = str(door.stateObj.read().rvalue)
        print(json.dumps({"macro": name, "state": state, "seconds": seconds}), flush=True)
        if state not in ("ON", "DevState.ON"):
            ok = False
            break
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Capture benchmark: 200 attributes on 40 real Tango devices.

scifish (one read_attributes per device, all devices in parallel) against the naive way
(one DeviceProxy.read_attribute call per attribute, in sequence), in the same run.
Every simulated read takes 2 ms, as a real controller does.

Run: .venv/bin/python bench/bench_capture.py
"""

from __future__ import annotations

import statistics
import time

import tango

from scifish import TangoReader
from scifish.testing import SimDeviceSpec, SimulatedBeamline

ATTRS = ["a0", "a1", "a2", "a3", "a4"]
REPEAT = 15


def naive(proxies: dict[str, tango.DeviceProxy], wanted: list[tuple[str, str]]) -> None:
    for device, attr in wanted:
        try:
            proxies[device].read_attribute(attr)
        except tango.DevFailed:
            pass


def measure(fn, repeat: int = REPEAT) -> list[float]:
    fn()  # warm: connections made
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def fmt(ms: list[float]) -> str:
    return f"median {statistics.median(ms):7.1f} ms  (min {min(ms):6.1f}, max {max(ms):6.1f})"


def main() -> None:
    timeout_s = 0.5
    normal = [SimDeviceSpec("SimController", f"bench/ctrl/{i}", {"ReadDelayMs": 2.0}) for i in range(40)]
    slow = [SimDeviceSpec("SimController", "bench/slow/1", {"ReadDelayMs": 10.0})]  # 50 ms for its 5 reads
    dead = [SimDeviceSpec("SimController", "bench/dead/1", {"ReadDelayMs": 2.0})]
    with SimulatedBeamline(normal) as alive, SimulatedBeamline(slow) as slow_bl, SimulatedBeamline(dead) as dead_bl:
        addresses = {**alive.addresses, **slow_bl.addresses, **dead_bl.addresses}
        proxies = {name: tango.DeviceProxy(url) for name, url in addresses.items()}
        for p in proxies.values():
            p.set_timeout_millis(int(timeout_s * 1000))
        reader = TangoReader(addresses, timeout_s=timeout_s)
        base = [(d.name, a) for d in normal for a in ATTRS]
        print("A. 200 attributes on 40 devices, 2 ms per read (floor: one device's 5 reads = 10 ms)")
        seq = measure(lambda: naive(proxies, base), repeat=5)
        par = measure(lambda: reader.read(base))
        print(f"   naive sequential read_attribute : {fmt(seq)}")
        print(f"   scifish parallel read_attributes: {fmt(par)}")
        print(f"   speed-up {statistics.median(seq) / statistics.median(par):5.1f}x; "
              f"{statistics.median(par) - 10:.1f} ms above the 10 ms floor")

        with_slow = base + [("bench/slow/1", a) for a in ATTRS]
        dead_bl.freeze()
        try:
            with_dead = with_slow + [("bench/dead/1", a) for a in ATTRS]
            print(f"B. A + one slow device (50 ms) + one wedged device (SIGSTOP, timeout {timeout_s} s)")
            seq_b = measure(lambda: naive(proxies, with_dead), repeat=2)
            par_b = measure(lambda: reader.read(with_dead), repeat=5)
            errors = sum(1 for r in reader.read(with_dead).values() if r.error)
            print(f"   naive sequential read_attribute : {fmt(seq_b)}  (one timeout per attribute)")
            print(f"   scifish parallel read_attributes: {fmt(par_b)}  (one timeout for the device)")
            print(f"   speed-up {statistics.median(seq_b) / statistics.median(par_b):5.1f}x; "
                  f"{errors} attributes reported with an error")
        finally:
            dead_bl.thaw()
        reader.close()


if __name__ == "__main__":
    main()

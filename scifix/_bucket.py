"""A token bucket of bytes: how a fixity worker bounds its read rate.

Hand-written, twenty lines: pyrate-limiter (in the environment through schemathesis) keeps
one list entry per unit of weight in its in-memory bucket (``items.extend`` of ``weight``
items), a million per MiB read, and limits a sliding window rather than refilling a bucket.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` bytes per second on average, at most ``burst`` at once; ``rate`` 0: unbounded.

    :meth:`take` sleeps until the bytes may be read; the clock and the sleep are passed in so a
    test can count the time without waiting for it.
    """

    def __init__(self, rate: int, burst: int, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate, self.burst = rate, max(burst, 1)
        self._clock, self._sleep = clock, sleep
        self._tokens = float(self.burst)
        self._at = clock()
        self._lock = threading.Lock()

    def take(self, n: int) -> None:
        """Wait until ``n`` bytes may be read (more than the burst: taken on credit, so the
        average holds and a large request never waits for ever)."""
        if self.rate <= 0:
            return
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
            self._at = now
            self._tokens -= n
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)

"""A provider that browns out is left alone for a while (the breaker), and a transient failure is
tried again after a growing, jittered wait (backoff)."""

from __future__ import annotations

import random
import threading
import time


class Breaker:
    """Skips a provider after `threshold` failures in a row, for `cooldown` seconds; then lets
    one probe through (half-open): its success closes the circuit, its failure re-opens it."""

    def __init__(self, threshold: int = 3, cooldown: float = 30.0, clock=time.monotonic):
        self.threshold, self.cooldown, self.clock = threshold, cooldown, clock
        self.failures = 0
        self.opened_at: float | None = None
        self.probing = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.cooldown else "open"

    def allow(self) -> bool:
        with self._lock:
            state = self.state
            if state == "closed":
                return True
            if state == "half-open" and not self.probing:
                self.probing = True
                return True
            return False

    def success(self) -> None:
        with self._lock:
            self.failures, self.opened_at, self.probing = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self.failures += 1
            if self.probing or self.failures >= self.threshold:
                self.opened_at = self.clock()
            self.probing = False


def backoff(retry: int, base: float = 0.25, cap: float = 8.0) -> float:
    """Exponential backoff with jitter: between half and all of base * 2**retry."""
    return min(cap, base * 2**retry) * random.uniform(0.5, 1.0)

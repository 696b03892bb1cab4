"""What a long-lived process (tether ui, mcp, gateway) gives back when it sits idle.

Each holder of something big — a loaded local model, the search's embedding table — registers a
function that frees what no call has used for `idle` seconds and names it. One daemon thread per
process calls them every idle/4 s and returns the freed memory to the system (glibc keeps it in
its heap otherwise). The shortest idle time asked for wins: a user who set `idle_unload = 10` for
the local model gets the table freed as soon."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import threading
import time
from typing import Callable

__all__ = ["DEFAULT", "few_arenas", "give_back", "register", "release"]

DEFAULT = 300.0  # seconds
Release = Callable[[float, float], list[str]]  # (idle, now) -> the names of what it freed
_releases: list[Release] = []
_lock = threading.Lock()
_period: float | None = None  # the idle time the reaper runs with; None: no reaper yet
_shorter = threading.Event()  # a shorter idle time was asked for: the reaper's wait starts again


def register(free: Release, idle: float = DEFAULT) -> None:
    """`free` is called from now on; `idle` ≤ 0 asks for nothing to be freed by time."""
    global _period
    with _lock:
        if free not in _releases:
            _releases.append(free)
        if idle <= 0:
            return
        start, before = _period is None, _period
        _period = idle if _period is None else min(_period, idle)
    if not start and _period != before:
        _shorter.set()
    if start:
        threading.Thread(target=_reap, name="tether-idle", daemon=True).start()


def release(idle: float, now: float | None = None) -> list[str]:
    """Free everything unused for `idle` seconds now; the names of what was freed."""
    now = time.monotonic() if now is None else now
    with _lock:
        releases = list(_releases)
    freed = [name for free in releases for name in free(idle, now)]
    if freed:
        give_back()
    return freed


def give_back() -> None:
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def few_arenas() -> None:
    """At most two malloc arenas (glibc's default is eight a core): a server's worker threads then
    share heaps that malloc_trim can shrink, instead of each keeping its own high-water mark."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX


def _reap() -> None:
    while True:
        period = _period or DEFAULT
        if _shorter.wait(max(1.0, period / 4)):
            _shorter.clear()
            continue
        release(period)

"""Per-process cache and rate limiter: correct for one process (the embedded
default runs one gunicorn worker), and the reference for the Redis adapters."""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from domain.ports import Quota, RateDecision, Stamp


class MemoryCache:
    def __init__(
        self, ttl_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}
        self._entries: dict[str, tuple[float, Stamp, bytes]] = {}
        self._counter = itertools.count(1)

    def read(self, key: str, dependencies: Sequence[str]) -> tuple[bytes | None, Stamp]:
        with self._lock:
            stamp = tuple(self._token(d) for d in dependencies)
            entry = self._entries.get(key)
        if entry is None or entry[1] != stamp or entry[0] <= self._clock():
            return None, stamp
        return entry[2], stamp

    def fill(self, key: str, value: bytes, stamp: Stamp) -> None:
        with self._lock:
            self._entries[key] = (self._clock() + self._ttl, stamp, value)
            if len(self._entries) > 100_000:  # bound memory: drop the oldest
                del self._entries[next(iter(self._entries))]

    def invalidate(self, dependencies: Sequence[str]) -> None:
        with self._lock:
            for dependency in dependencies:
                self._tokens[dependency] = str(next(self._counter))

    def _token(self, dependency: str) -> str:
        # Never invalidated yet: "0", which no invalidation hands out, so
        # reads of records nobody wrote leave nothing behind.
        return self._tokens.get(dependency, "0")


class MemoryRateLimiter:
    """Sliding log: at most quota.limit requests in any window of the quota."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._logs: dict[str, deque[float]] = {}
        self._hits = 0
        self._longest_window = 0

    def hit(self, key: str, quota: Quota) -> RateDecision:
        with self._lock:
            now = self._clock()
            self._longest_window = max(self._longest_window, quota.window_seconds)
            log = self._logs.setdefault(key, deque())
            while log and log[0] <= now - quota.window_seconds:
                log.popleft()
            allowed = len(log) < quota.limit
            if allowed:
                log.append(now)
            self._forget_idle(now)
            return decide(
                allowed,
                quota,
                count=len(log),
                oldest=log[0] if log else now,
                newest=log[-1] if log else now,
                now=now,
            )

    def _forget_idle(self, now: float) -> None:
        """Now and then, drop clients whose every request left the window."""
        self._hits += 1
        if self._hits % 10_000:
            return
        cutoff = now - self._longest_window
        idle = [k for k, log in self._logs.items() if not log or log[-1] <= cutoff]
        for key in idle:
            del self._logs[key]


def decide(
    allowed: bool, quota: Quota, *, count: int, oldest: float, newest: float, now: float
) -> RateDecision:
    """Headers' numbers from the window's state; shared by both adapters."""
    window = quota.window_seconds
    reset = max(0, _ceil(newest + window - now)) if count else 0
    retry = 0 if allowed else max(1, _ceil(oldest + window - now))
    return RateDecision(allowed, quota.limit, max(0, quota.limit - count), reset, retry)


def _ceil(seconds: float) -> int:
    # Clock readings are floats: 60.00000000001 is float noise, not a 61st second.
    return math.ceil(round(seconds, 6))

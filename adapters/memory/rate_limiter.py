"""Per-process rate limiter: correct for one process (the embedded default runs
one gunicorn worker), and the reference for the Redis limiter."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from domain.keys import Quota
from domain.ports import RateDecision


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
            return RateDecision.from_window(
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

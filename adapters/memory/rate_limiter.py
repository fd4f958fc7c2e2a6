"""Per-process rate limiter: correct for one process (the embedded default runs
one gunicorn worker), and the reference for the Redis limiter."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from domain.api_keys import Quota
from domain.ports import RateDecision


class MemoryRateLimiter:
    """GCRA, as the Redis limiter: quota.limit requests in a burst, then one
    more every window / limit; one number (the TAT) per client."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._tats: dict[str, float] = {}
        self._hits = 0

    def hit(self, key: str, quota: Quota, cost: int = 1) -> RateDecision:
        with self._lock:
            now = self._clock()
            step = cost * quota.window_seconds / quota.limit
            tat = max(self._tats.get(key, now), now)
            # As in the Redis script: room for a double's rounding, no more.
            slack = (quota.limit + 100) * 1e-8
            allowed = tat + step - now <= quota.window_seconds + slack
            if allowed:
                tat += step
                self._tats[key] = tat
            self._forget_idle(now)
            return RateDecision.from_gcra(allowed, quota, tat=tat, now=now, cost=cost)

    def _forget_idle(self, now: float) -> None:
        """Now and then, drop clients whose quota is whole again."""
        self._hits += 1
        if self._hits % 10_000:
            return
        for key in [k for k, tat in self._tats.items() if tat <= now]:
            del self._tats[key]

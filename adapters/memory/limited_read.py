"""LimitedRead over any limiter and cache: one call after the other, for
adapters with no round trip to share (in this process)."""

from __future__ import annotations

from collections.abc import Sequence

from domain.api_keys import Quota
from domain.ports import Cache, CacheLookup, CacheUnavailable, RateDecision, RateLimiter


class SeparateLimitedRead:
    def __init__(self, limiter: RateLimiter, cache: Cache) -> None:
        self._limiter = limiter
        self._cache = cache

    def hit_and_read(
        self, limit_key: str, quota: Quota, cache_key: str, dependencies: Sequence[str]
    ) -> tuple[RateDecision, CacheLookup | None]:
        decision = self._limiter.hit(limit_key, quota)
        try:
            value, stamp = self._cache.read(cache_key, dependencies)
        except CacheUnavailable:
            return decision, None
        return decision, CacheLookup(cache_key, value, stamp)

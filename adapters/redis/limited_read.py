"""LimitedRead on Redis: the limiter's script and the cache's read sent
together, one round trip for what were two (on a cluster too: the lane
writes to every node before it reads a reply)."""

from __future__ import annotations

from collections.abc import Sequence

import redis

from adapters.breaker import BreakerOpen, CircuitBreaker
from adapters.redis.cache import RedisCache
from adapters.redis.lane import Lane
from adapters.redis.rate_limiter import RedisRateLimiter
from domain.api_keys import Quota
from domain.ports import (
    CacheLookup,
    CacheUnavailable,
    RateDecision,
    RateLimiterUnavailable,
)


class RedisLimitedRead:
    """The limiter and the cache must use this lane and this breaker."""

    def __init__(
        self,
        lane: Lane,
        breaker: CircuitBreaker,
        limiter: RedisRateLimiter,
        cache: RedisCache,
    ) -> None:
        self._lane = lane
        self._breaker = breaker
        self._limiter = limiter
        self._cache = cache

    def hit_and_read(
        self, limit_key: str, quota: Quota, cache_key: str, dependencies: Sequence[str]
    ) -> tuple[RateDecision, CacheLookup | None]:
        refused = self._limiter.refused(limit_key, quota)
        if refused is not None:
            return refused, None  # the request goes no further: nothing to read
        if self._cache.renewal_pending:  # the cache is off for now
            return self._limiter.hit(limit_key, quota), None
        read = self._cache.read_commands(cache_key, dependencies)
        commands = [self._limiter.command(limit_key, quota), *read]
        try:
            replies = self._breaker.call(
                lambda: self._lane.pipeline(commands, again=True)
            )
        except (BreakerOpen, redis.RedisError) as exc:
            raise RateLimiterUnavailable() from exc
        decision = self._limiter.decision(limit_key, replies[0], quota)
        try:
            value, stamp = self._cache.lookup(read, replies[1:])
        except CacheUnavailable:
            return decision, None
        return decision, CacheLookup(cache_key, value, stamp)

"""LimitedRead on Redis: the limiter's script and the cache's MGET pipelined
on one connection, one round trip for what were two."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from redis.exceptions import NoScriptError

from adapters.breaker import BreakerOpen, CircuitBreaker
from adapters.redis.cache import RedisCache
from adapters.redis.fast_path import fast_path_for
from adapters.redis.rate_limiter import RedisRateLimiter
from domain.api_keys import Quota
from domain.ports import (
    CacheLookup,
    CacheUnavailable,
    RateDecision,
    RateLimiterUnavailable,
)


class RedisLimitedRead:
    """The limiter and the cache must use this client and this breaker."""

    def __init__(
        self,
        client: redis.Redis,
        breaker: CircuitBreaker,
        limiter: RedisRateLimiter,
        cache: RedisCache,
    ) -> None:
        self._fast_path = fast_path_for(client)
        self._breaker = breaker
        self._limiter = limiter
        self._cache = cache

    def hit_and_read(
        self, limit_key: str, quota: Quota, cache_key: str, dependencies: Sequence[str]
    ) -> tuple[RateDecision, CacheLookup | None]:
        if self._cache.epoch_bump_pending:  # the cache is off for now
            return self._limiter.hit(limit_key, quota), None
        read = self._cache.read_command(cache_key, dependencies)

        def exchange() -> list[Any]:
            hit = self._limiter.command(limit_key, quota)  # may load the script
            return self._fast_path.pipeline([hit, read], again=True)

        try:
            replies = self._breaker.call(exchange)
        except NoScriptError:  # Redis lost the script: hit() loads it again
            return self._limiter.hit(limit_key, quota), None
        except (BreakerOpen, redis.RedisError) as exc:
            raise RateLimiterUnavailable() from exc
        decision = self._limiter.decision(replies[0], quota)
        try:
            value, stamp = self._cache.lookup(read, replies[1])
        except CacheUnavailable:
            return decision, None
        return decision, CacheLookup(cache_key, value, stamp)

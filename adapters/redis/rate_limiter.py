"""The distributed rate limiter on Redis: one script call per request."""

from __future__ import annotations

from typing import Any

import redis

from adapters.breaker import BreakerOpen, CircuitBreaker
from adapters.redis.client import new_token
from domain.keys import Quota
from domain.ports import RateDecision, RateLimiterUnavailable

# Sliding log in one atomic step. Redis's own clock is the one clock every
# instance shares; rejected requests are not recorded.
_SLIDING_LOG = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local allowed = 0
if count < limit then
  redis.call('ZADD', key, now, now .. ':' .. ARGV[3])
  redis.call('PEXPIRE', key, math.ceil(window / 1000))
  count = count + 1
  allowed = 1
end
local oldest = now
local newest = now
if count > 0 then
  oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
  newest = tonumber(redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2])
end
return {allowed, count, oldest, newest, now}
"""

_MICRO = 1_000_000


class RedisRateLimiter:
    """At most quota.limit requests in any window, across every instance."""

    def __init__(
        self, client: redis.Redis, breaker: CircuitBreaker, prefix: str = "ema:rl:"
    ) -> None:
        self._script = client.register_script(_SLIDING_LOG)
        self._breaker = breaker
        self._prefix = prefix

    def hit(self, key: str, quota: Quota) -> RateDecision:
        args: list[Any] = [quota.limit, quota.window_seconds * _MICRO, new_token()]
        try:
            result = self._breaker.call(
                lambda: self._script(keys=[self._prefix + key], args=args)
            )
        except (BreakerOpen, redis.RedisError) as exc:
            raise RateLimiterUnavailable() from exc
        allowed, count, oldest, newest, now = (int(v) for v in result)
        return RateDecision.from_window(
            bool(allowed),
            quota,
            count=count,
            oldest=oldest / _MICRO,
            newest=newest / _MICRO,
            now=now / _MICRO,
        )

"""The distributed rate limiter on Redis: one script call per request."""

from __future__ import annotations

from typing import Any

import redis

from adapters.breaker import BreakerOpen, CircuitBreaker
from adapters.redis.lane import Lane
from domain.api_keys import Quota
from domain.ports import RateDecision, RateLimiterUnavailable
from domain.ports.rate_limiter import EPOCH_SECONDS
from domain.refusals import RefusalMemo

# GCRA in one atomic step on Redis's own clock, the one clock every instance
# shares: one key per client and group holding its theoretical arrival time
# (TAT), so memory per client is constant whatever the quota. A request is
# allowed when the TAT it would push to stays within a window of now; a
# rejected request changes nothing. Times are microseconds since EPOCH (a
# recent instant keeps doubles precise to a hundredth of a microsecond); the
# tolerance absorbs their rounding over a whole burst, and stays far below an
# interval for any quota up to tens of thousands per minute. A hit may count
# several requests at once (a batch): all are allowed, or none.
_GCRA = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local epoch = tonumber(ARGV[3])
local cost = tonumber(ARGV[4] or '1')
local t = redis.call('TIME')
local now = (tonumber(t[1]) - epoch) * 1000000 + tonumber(t[2])
local step = cost * window / limit
local tat = tonumber(redis.call('GET', key) or now)
if tat < now then tat = now end
local allowed = 0
if tat + step - now <= window + (limit + 100) * 0.01 then
  allowed = 1
  tat = tat + step
  local ttl = math.ceil((tat - now) / 1000)
  redis.call('SET', key, string.format('%.17g', tat), 'PX', ttl)
end
return {allowed, string.format('%.17g', tat), string.format('%.17g', now)}
"""

_MICRO = 1_000_000


class RedisRateLimiter:
    """quota.limit requests in a burst, one more every window / limit after,
    counted across every instance."""

    def __init__(
        self,
        lane: Lane,
        breaker: CircuitBreaker,
        prefix: str = "ema:rl:",
        refusals: RefusalMemo | None = None,
    ) -> None:
        """refusals: clients refused, answered from memory until their
        Retry-After (domain/refusals.py), with no round trip."""
        self._script = lane.script(_GCRA)
        self._breaker = breaker
        self._prefix = prefix
        self._refusals = RefusalMemo() if refusals is None else refusals

    def hit(self, key: str, quota: Quota, cost: int = 1) -> RateDecision:
        refused = self.refused(key, quota, cost)
        if refused is not None:
            return refused
        args = [*self._args(quota), cost]
        try:
            result = self._breaker.call(
                lambda: self._script([self._prefix + key], args)
            )
        except (BreakerOpen, redis.RedisError) as exc:
            raise RateLimiterUnavailable() from exc
        return self.decision(key, result, quota, cost)

    def refused(self, key: str, quota: Quota, cost: int = 1) -> RateDecision | None:
        """The refusal a hit would get, when this process knows it already."""
        return self._refusals.refusal(key, quota, cost)

    def command(self, key: str, quota: Quota) -> tuple[Any, ...]:
        """hit's command, for a pipeline; decision() reads its reply."""
        return self._script.command([self._prefix + key], self._args(quota))

    def decision(
        self, key: str, reply: Any, quota: Quota, cost: int = 1
    ) -> RateDecision:
        allowed, tat, now = (float(v) for v in reply)
        decision = RateDecision.from_gcra(
            bool(allowed), quota, tat=tat / _MICRO, now=now / _MICRO, cost=cost
        )
        if not allowed:
            self._refusals.note(key, quota, cost, decision)
        return decision

    def _args(self, quota: Quota) -> list[Any]:
        return [quota.limit, quota.window_seconds * _MICRO, EPOCH_SECONDS]

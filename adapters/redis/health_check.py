"""Redis's part of readiness."""

from __future__ import annotations

import redis

from adapters.breaker import BreakerOpen, CircuitBreaker


class RedisHealthCheck:
    """Readiness probe; reports down at once while the breaker is open."""

    def __init__(self, client: redis.Redis, breaker: CircuitBreaker) -> None:
        self._client = client
        self._breaker = breaker

    def ping(self) -> bool:
        try:
            return bool(self._breaker.call(self._client.ping))
        except (BreakerOpen, redis.RedisError):
            return False

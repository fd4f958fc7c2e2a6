"""Redis's part of readiness."""

from __future__ import annotations

import redis

from adapters.breaker import BreakerOpen, CircuitBreaker
from adapters.redis.lane import Lane


class RedisHealthCheck:
    """Readiness probe: every node the service sends to answers PING. Reports
    down at once while the breaker is open, with what opened it."""

    def __init__(self, lane: Lane, breaker: CircuitBreaker) -> None:
        self._lane = lane
        self._breaker = breaker

    def ping(self) -> bool:
        try:
            self._breaker.call(self._lane.ping)
        except (BreakerOpen, redis.RedisError):
            return False
        return True

    def reason(self) -> str | None:
        return self._breaker.trouble

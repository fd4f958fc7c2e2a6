"""Redis clients as the service makes them: adapters.redis.client's client
and circuit breaker, on the test database of the shared Redis (or any URL)."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from adapters.breaker import CircuitBreaker
from adapters.redis.client import connect_redis, redis_breaker
from settings import RedisSettings
from tests.support.services import REDIS_URL


@dataclass(frozen=True, slots=True)
class ServiceRedis:
    """What a Redis adapter is built over: a client and its breaker."""

    client: redis.Redis
    breaker: CircuitBreaker
    settings: RedisSettings


def service_redis(url: str = REDIS_URL, **settings: float) -> ServiceRedis:
    """A client and a breaker as bootstrap makes them; settings: RedisSettings'
    fields (timeout_seconds, breaker_cooldown_seconds)."""
    chosen = RedisSettings(url, **settings)  # type: ignore[arg-type]
    return ServiceRedis(connect_redis(chosen), redis_breaker(chosen), chosen)

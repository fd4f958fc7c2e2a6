"""Every Redis adapter a deployment uses, over one client and one breaker,
each in its own part of the key space under REDIS_KEY_PREFIX."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.observer import BackendObserver
from adapters.redis.cache import RedisCache
from adapters.redis.client import connect_redis, redis_breaker
from adapters.redis.health_check import RedisHealthCheck
from adapters.redis.idempotency import RedisIdempotencyStore
from adapters.redis.limited_read import RedisLimitedRead
from adapters.redis.rate_limiter import RedisRateLimiter
from adapters.redis.revocations import RedisRevocations
from settings import RedisSettings


@dataclass(frozen=True, slots=True)
class RedisAdapters:
    cache: RedisCache
    limiter: RedisRateLimiter
    idempotency: RedisIdempotencyStore
    health: RedisHealthCheck
    # The limiter and the cache in one round trip.
    limited_read: RedisLimitedRead
    revocations: RedisRevocations


def open_redis(
    settings: RedisSettings,
    cache_ttl_seconds: int,
    observer: BackendObserver | None = None,
) -> RedisAdapters:
    client = connect_redis(settings)
    breaker = redis_breaker(settings, observer)
    prefix = settings.key_prefix
    cache = RedisCache(client, breaker, cache_ttl_seconds, prefix=f"{prefix}cache:v1:")
    limiter = RedisRateLimiter(client, breaker, prefix=f"{prefix}rl:")
    return RedisAdapters(
        cache,
        limiter,
        RedisIdempotencyStore(client, breaker, prefix=f"{prefix}idem:"),
        RedisHealthCheck(client, breaker),
        RedisLimitedRead(client, breaker, limiter, cache),
        RedisRevocations(client, f"{prefix}revoked"),
    )

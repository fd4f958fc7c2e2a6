"""Every Redis adapter a deployment uses, over one lane and one breaker,
each in its own part of the key space under REDIS_KEY_PREFIX: on one Redis
node, or on a Redis Cluster (REDIS_CLUSTER=1) through the cluster path."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.observer import BackendObserver
from adapters.redis.cache import RedisCache
from adapters.redis.client import connect_redis, redis_breaker
from adapters.redis.cluster_path import ClusterFastPath
from adapters.redis.fast_path import fast_path_for
from adapters.redis.health_check import RedisHealthCheck
from adapters.redis.idempotency import RedisIdempotencyStore
from adapters.redis.lane import Lane
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
    lane: Lane


def open_redis(
    settings: RedisSettings,
    cache_ttl_seconds: int,
    observer: BackendObserver | None = None,
) -> RedisAdapters:
    seed = connect_redis(settings)
    prefix = settings.key_prefix
    lane: Lane
    if settings.cluster:
        cluster = lane = ClusterFastPath(seed)
        revocations = RedisRevocations(cluster.clients, f"{prefix}revoked")
    else:
        lane = fast_path_for(seed)
        revocations = RedisRevocations(lambda: [seed], f"{prefix}revoked")

    def probe() -> None:
        """Every primary answers, and takes a write (a full Redis, or a
        replica, still answers PING and reads)."""
        lane.ping()
        keys = lane.probe_keys(prefix)
        lane.pipeline([("SET", key, "1", "PX", 1000) for key in keys])

    breaker = redis_breaker(settings, observer, probe)
    cache = RedisCache(lane, breaker, cache_ttl_seconds, prefix=f"{prefix}cache:v2:")
    limiter = RedisRateLimiter(lane, breaker, prefix=f"{prefix}rl:")
    return RedisAdapters(
        cache,
        limiter,
        RedisIdempotencyStore(lane, breaker, prefix=f"{prefix}idem:"),
        RedisHealthCheck(lane, breaker),
        RedisLimitedRead(lane, breaker, limiter, cache),
        revocations,
        lane,
    )

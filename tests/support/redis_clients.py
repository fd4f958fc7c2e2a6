"""Redis clients as the service makes them: adapters.redis.client's client
and circuit breaker, on the test database of the shared Redis (or any URL)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import redis

from adapters.breaker import CircuitBreaker
from adapters.redis.client import connect_redis, redis_breaker
from adapters.redis.cluster_path import ClusterFastPath
from adapters.redis.fast_path import fast_path_for
from adapters.redis.lane import Lane
from settings import RedisSettings
from tests.support.services import REDIS_URL


@dataclass(frozen=True, slots=True)
class ServiceRedis:
    """What a Redis adapter is built over: a lane (over a client) and a breaker."""

    client: redis.Redis
    breaker: CircuitBreaker
    settings: RedisSettings
    lane: Lane


def service_redis(
    url: str = REDIS_URL, cluster: bool = False, **settings: float
) -> ServiceRedis:
    """A client, its lane and a breaker as bootstrap makes them; settings:
    RedisSettings' fields (timeout_seconds, breaker_cooldown_seconds).
    cluster=True: url is a node of a Redis Cluster."""
    chosen = RedisSettings(url, cluster=cluster, **settings)  # type: ignore[arg-type]
    client = connect_redis(chosen)
    lane = ClusterFastPath(client) if cluster else fast_path_for(client)
    return ServiceRedis(client, redis_breaker(chosen), chosen, lane)


REDIS_KINDS = ["redis", "redis-cluster"]


def redis_of_kind(request: pytest.FixtureRequest, kind: str) -> ServiceRedis:
    """For a contract suite's fixture: a fresh client, lane and breaker on the
    flushed test database of the shared Redis ("redis"), or on the session's
    flushed Redis Cluster ("redis-cluster")."""
    if kind == "redis-cluster":
        cluster = request.getfixturevalue("redis_cluster")
        return service_redis(cluster.seed_url, cluster=True)
    request.getfixturevalue("redis_db")
    return service_redis()

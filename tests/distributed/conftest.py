"""Fixtures for the Redis cache and rate-limiting tests (helpers in support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from adapters.memory_cache import MemoryCache
from adapters.redis_store import RedisCache, RedisSettings, connect_redis, redis_breaker
from domain.ports import Cache
from tests import services
from tests.distributed.support import FakeClock, RedisServer, shared_redis


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    """The shared Redis's test logical DB, flushed before and after the test."""
    client = shared_redis()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, running; the test may stop it."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.close()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> Iterator[Cache]:
    """Each cache adapter in turn (Redis on the flushed test database)."""
    if request.param == "memory":
        yield MemoryCache()
        return
    request.getfixturevalue("redis_db")
    settings = RedisSettings(services.REDIS_URL)
    client = connect_redis(settings)
    yield RedisCache(client, redis_breaker(settings))
    client.close()

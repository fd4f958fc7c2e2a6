"""Fixtures for the Redis cache and rate-limiting tests (helpers in support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

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

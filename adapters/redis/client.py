"""The Redis client every Redis adapter shares, and what counts as an outage.

Every call has short timeouts and goes through a circuit breaker, so once the
breaker is open a Redis outage costs reads and rate-limit checks nothing.
"""

from __future__ import annotations

import os

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters.breaker import CircuitBreaker
from adapters.observer import BackendObserver
from settings import RedisSettings

# What means "Redis is not answering" (and trips the breaker). A command
# error (ResponseError) is a bug or a misconfiguration, not an outage: it
# bypasses the cache for that call without switching Redis off for everyone.
REDIS_FAILURES = (redis.ConnectionError, redis.TimeoutError, OSError)


def connect_redis(settings: RedisSettings) -> redis.Redis:
    """A client with its own pool; no retries, so a timeout costs one timeout."""
    return redis.Redis.from_url(
        settings.url,
        socket_connect_timeout=settings.timeout_seconds,
        socket_timeout=settings.timeout_seconds,
        retry=Retry(NoBackoff(), 0),
        max_connections=settings.max_connections,
        health_check_interval=30,
    )


def redis_breaker(
    settings: RedisSettings, observer: BackendObserver | None = None
) -> CircuitBreaker:
    cooldown = settings.breaker_cooldown_seconds
    return CircuitBreaker("Redis", REDIS_FAILURES, cooldown, observer=observer)


def new_token() -> str:
    """A random value no other writer will pick."""
    return os.urandom(8).hex()

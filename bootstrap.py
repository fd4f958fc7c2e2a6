"""Composition root: builds adapters from settings, returns the WSGI app.

The only module that knows every concrete class. Nothing here runs at import.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.clock import SystemClock
from adapters.memory.cache import MemoryCache
from adapters.memory.idempotency import MemoryIdempotencyStore
from adapters.memory.limited_read import SeparateLimitedRead
from adapters.memory.rate_limiter import MemoryRateLimiter
from adapters.memory.storage import MemoryStorage
from adapters.redis.cache import RedisCache
from adapters.redis.client import connect_redis, redis_breaker
from adapters.redis.health import RedisHealth
from adapters.redis.idempotency import RedisIdempotencyStore
from adapters.redis.limited_read import RedisLimitedRead
from adapters.redis.rate_limiter import RedisRateLimiter
from adapters.sql.database import open_database
from adapters.sql.storage import SqlStorage
from domain.ports import (
    Cache,
    Clock,
    HealthCheck,
    IdempotencyStore,
    LimitedRead,
    RateLimiter,
    Storage,
)
from domain.services import ApiKeyService, EmployeeService, ManagerService, TeamService
from entrypoints.app import Edges, Health, Services, WsgiApp, create_app
from entrypoints.lifecycle import Draining, drain_on_sigterm
from entrypoints.metrics import Metrics
from settings import MEMORY_URL, Settings


def open_storage(settings: Settings, observer: Metrics | None = None) -> Storage:
    """The configured store: in memory, SQLite or PostgreSQL."""
    if settings.database_url == MEMORY_URL:
        return MemoryStorage()
    return SqlStorage(open_database(settings.database_url, settings.pool), observer)


def migrate(settings: Settings) -> list[str]:
    """Apply pending migrations; the names applied (none for the memory store)."""
    storage = open_storage(settings.without_statement_timeout())
    try:
        return storage.migrate(settings.server.migrate_wait_seconds)
    finally:
        storage.close()


def key_service(
    settings: Settings, storage: Storage, clock: Clock | None = None
) -> ApiKeyService:
    """API keys over the storage; SettingsError when SECRET_KEY is missing."""
    secret, seconds = settings.auth.required_secret_key(), settings.auth.cache_seconds
    return ApiKeyService(storage, clock or SystemClock(), secret, cache_seconds=seconds)


@dataclass(frozen=True, slots=True)
class _RedisParts:
    cache: RedisCache
    limiter: RedisRateLimiter
    idempotency: IdempotencyStore
    health: HealthCheck
    limited_read: LimitedRead


def _open_redis(settings: Settings, metrics: Metrics) -> _RedisParts | None:
    if settings.redis is None:
        return None
    client = connect_redis(settings.redis)
    breaker = redis_breaker(settings.redis, metrics)
    prefix = settings.redis.key_prefix
    ttl = settings.cache_ttl_seconds
    cache = RedisCache(client, breaker, ttl, prefix=f"{prefix}cache:v1:")
    limiter = RedisRateLimiter(client, breaker, prefix=f"{prefix}rl:")
    idempotency = RedisIdempotencyStore(client, breaker, prefix=f"{prefix}idem:")
    both = RedisLimitedRead(client, breaker, limiter, cache)
    return _RedisParts(cache, limiter, idempotency, RedisHealth(client, breaker), both)


def bootstrap(
    *,
    settings: Settings | None = None,
    storage: Storage | None = None,
    clock: Clock | None = None,
    cache: Cache | None = None,
    limiter: RateLimiter | None = None,
    idempotency: IdempotencyStore | None = None,
    health: Health | None = None,
    draining: Draining | None = None,
    metrics: Metrics | None = None,
) -> WsgiApp:
    """The app with every dependency overridable; defaults are built here, now.

    Pass metrics to read the app's counters (cache hits and misses, rejections).
    """
    settings = settings or Settings()
    metrics = metrics or Metrics(settings.server.metrics_dir)
    storage = storage or open_storage(settings, metrics)
    clock = clock or SystemClock()
    redis_parts = _open_redis(settings, metrics)
    optional: dict[str, HealthCheck] = {}
    if redis_parts is not None:
        cache = cache or redis_parts.cache
        limiter = limiter or redis_parts.limiter
        idempotency = idempotency or redis_parts.idempotency
        optional["redis"] = redis_parts.health
    cache = cache or MemoryCache(settings.cache_ttl_seconds)
    limiter = limiter or MemoryRateLimiter()
    limited_read: LimitedRead = SeparateLimitedRead(limiter, cache)
    if redis_parts and (limiter, cache) == (redis_parts.limiter, redis_parts.cache):
        limited_read = redis_parts.limited_read  # one round trip for both
    idempotency = idempotency or MemoryIdempotencyStore()
    services = Services(
        employees=EmployeeService(storage, clock),
        managers=ManagerService(storage, clock),
        teams=TeamService(storage, clock),
    )
    health = health or _health(storage, optional, settings, draining or Draining())
    keys = None if settings.auth.disabled else key_service(settings, storage, clock)
    shared = cache if settings.response_cache else None
    edges = Edges(limiter, idempotency, keys, shared, metrics, limited_read)
    return create_app(services, health, edges, settings.http)


def _health(
    storage: Storage,
    redis: dict[str, HealthCheck],
    settings: Settings,
    draining: Draining,
) -> Health:
    required: dict[str, HealthCheck] = {"database": storage}
    if settings.http.rate_limits.fail_closed:
        required.update(redis)  # without Redis every limited request is a 503
        redis = {}
    return Health(required=required, optional=redis, draining=draining)


def get_app() -> WsgiApp:
    """Entry point for gunicorn: `gunicorn 'bootstrap:get_app()'`."""
    draining = Draining()
    drain_on_sigterm(draining)
    return bootstrap(settings=Settings.from_env(), draining=draining)

"""Composition root: reads configuration, builds adapters, returns the WSGI app.

The only module that knows every concrete class. Nothing here runs at import.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import FrameType
from urllib.parse import quote

from adapters.breaker import CircuitBreaker
from adapters.clock import SystemClock
from adapters.memory import MemoryUnitOfWorkFactory
from adapters.memory_cache import MemoryCache, MemoryRateLimiter
from adapters.redis_store import (
    RedisCache,
    RedisHealth,
    RedisRateLimiter,
    RedisSettings,
    connect_redis,
    redis_breaker,
)
from adapters.sql.database import PoolSettings, open_database
from adapters.sql.migrate import apply_migrations
from adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from domain.ports import Cache, Clock, HealthCheck, RateLimiter, UnitOfWorkFactory
from domain.services import EmployeeService, ManagerService, TeamService
from entrypoints.app import (
    DEFAULT_QUOTAS,
    Edges,
    Health,
    HttpSettings,
    Services,
    WsgiApp,
    create_app,
)
from entrypoints.client_ip import parse_networks
from entrypoints.rate_limit import RateLimitSettings, parse_quota
from entrypoints.resources.health import Draining
from entrypoints.stats import Stats
from migrations import MIGRATIONS_DIR

log = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = "sqlite:///employees.sqlite3"
MEMORY_URL = "memory://"


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    pool: PoolSettings = field(default_factory=PoolSettings)
    redis: RedisSettings | None = None
    cache_ttl_seconds: int = 60
    http: HttpSettings = field(default_factory=HttpSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            database_url=env.get("DATABASE_URL")
            or env.get("POSTGRES_URL")
            or DEFAULT_DATABASE_URL,
            pool=PoolSettings(
                max_connections=int(env.get("DB_POOL_SIZE", 10)),
                statement_timeout_ms=int(env.get("DB_STATEMENT_TIMEOUT_MS", 5000)),
            ),
            redis=_redis_settings(env),
            cache_ttl_seconds=_at_least_one(
                "CACHE_TTL_SECONDS", env.get("CACHE_TTL_SECONDS", "60")
            ),
            http=HttpSettings(
                max_body_bytes=int(env.get("MAX_BODY_BYTES", 64 * 1024)),
                trusted_proxies=parse_networks(env.get("TRUSTED_PROXIES", "")),
                rate_limits=RateLimitSettings(
                    quotas={
                        group: parse_quota(env.get(f"RATE_LIMIT_{group.upper()}", ""))
                        if env.get(f"RATE_LIMIT_{group.upper()}")
                        else default
                        for group, default in DEFAULT_QUOTAS.items()
                    },
                    fail_closed=env.get("RATE_LIMIT_FAIL_CLOSED") == "1",
                ),
            ),
        )


def _at_least_one(name: str, value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(f"{name} must be at least 1, not {value!r}")
    return number


def _redis_settings(env: Mapping[str, str]) -> RedisSettings | None:
    """REDIS_URL (redis:// or rediss://), else the REDIS_HOST/PORT/PASSWORD trio."""
    url = env.get("REDIS_URL")
    if not url and env.get("REDIS_HOST"):
        password = env.get("REDIS_PASSWORD")
        auth = f":{quote(password, safe='')}@" if password else ""
        url = f"redis://{auth}{env['REDIS_HOST']}:{env.get('REDIS_PORT', '6379')}/0"
    if not url:
        return None
    return RedisSettings(
        url=url,
        timeout_seconds=int(env.get("REDIS_TIMEOUT_MS", 250)) / 1000,
        breaker_cooldown_seconds=float(env.get("REDIS_BREAKER_COOLDOWN_SECONDS", 2)),
    )


def open_storage(settings: Settings) -> UnitOfWorkFactory:
    """Units of work over the configured store (also a HealthCheck via ping)."""
    if settings.database_url == MEMORY_URL:
        return MemoryUnitOfWorkFactory()
    return SqlUnitOfWorkFactory(open_database(settings.database_url, settings.pool))


def migrate(settings: Settings) -> list[str]:
    """Apply pending migrations; a no-op for the in-memory store."""
    if settings.database_url == MEMORY_URL:
        return []
    # No statement timeout: a migration may take long, and so may waiting for
    # another process's migration to finish.
    pool = dataclasses.replace(settings.pool, statement_timeout_ms=0)
    db = open_database(settings.database_url, pool)
    try:
        return apply_migrations(db, MIGRATIONS_DIR)
    finally:
        db.close_all() if hasattr(db, "close_all") else db.close()


@dataclass(frozen=True, slots=True)
class _RedisParts:
    cache: Cache
    limiter: RateLimiter
    health: HealthCheck


def _open_redis(settings: Settings) -> _RedisParts | None:
    if settings.redis is None:
        return None
    client = connect_redis(settings.redis)
    breaker: CircuitBreaker = redis_breaker(settings.redis)
    return _RedisParts(
        cache=RedisCache(client, breaker, settings.cache_ttl_seconds),
        limiter=RedisRateLimiter(client, breaker),
        health=RedisHealth(client, breaker),
    )


def bootstrap(
    *,
    settings: Settings | None = None,
    uow: UnitOfWorkFactory | None = None,
    clock: Clock | None = None,
    cache: Cache | None = None,
    limiter: RateLimiter | None = None,
    health: Health | None = None,
    draining: Draining | None = None,
    stats: Stats | None = None,
) -> WsgiApp:
    """The app with every dependency overridable; defaults are built here, now.

    Pass stats to read the app's counters (cache hits and misses, rejections).
    """
    settings = settings or Settings()
    uow = uow or open_storage(settings)
    clock = clock or SystemClock()
    redis_parts = _open_redis(settings)
    optional: dict[str, HealthCheck] = {}
    if redis_parts is not None:
        cache = cache or redis_parts.cache
        limiter = limiter or redis_parts.limiter
        optional["redis"] = redis_parts.health
    cache = cache or MemoryCache(settings.cache_ttl_seconds)
    limiter = limiter or MemoryRateLimiter()
    services = Services(
        employees=EmployeeService(uow, clock),
        managers=ManagerService(uow, clock),
        teams=TeamService(uow, clock),
    )
    health = health or _health(uow, optional, settings, draining or Draining())
    edges = Edges(limiter, cache, stats or Stats())
    return create_app(services, health, edges, settings.http)


def _health(
    uow: UnitOfWorkFactory,
    redis: dict[str, HealthCheck],
    settings: Settings,
    draining: Draining,
) -> Health:
    if not hasattr(uow, "ping"):
        raise TypeError("the unit-of-work factory cannot report its health")
    required: dict[str, HealthCheck] = {"database": uow}  # type: ignore[dict-item]
    if settings.http.rate_limits.fail_closed:
        required.update(redis)  # without Redis every limited request is a 503
        redis = {}
    return Health(required=required, optional=redis, draining=draining)


def get_app() -> WsgiApp:
    """Entry point for gunicorn: `gunicorn 'bootstrap:get_app()'`."""
    settings = Settings.from_env(os.environ)
    if settings.redis is None and int(os.environ.get("WEB_CONCURRENCY", "1")) > 1:
        log.warning(
            "no REDIS_URL: the cache and rate limiter are per process, so with "
            "several workers limits multiply and cached reads can go stale"
        )
    draining = Draining()
    _begin_draining_on_sigterm(draining)
    return bootstrap(settings=settings, draining=draining)


def _begin_draining_on_sigterm(draining: Draining) -> None:
    """Readiness turns 503 the moment gunicorn asks this worker to stop.

    gunicorn installs its worker signal handlers before it loads the app, so
    ours runs first and then hands over to gunicorn's graceful exit."""
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        draining.begin()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)

"""Composition root: builds adapters from settings, returns the WSGI app, and
wires the command line. The only module that knows every concrete class.
Nothing here runs at import."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from adapters.clock import SystemClock
from adapters.memory.cache import MemoryCache
from adapters.memory.idempotency import MemoryIdempotencyStore
from adapters.memory.limited_read import SeparateLimitedRead
from adapters.memory.rate_limiter import MemoryRateLimiter
from adapters.memory.revocations import LocalRevocations
from adapters.memory.storage import MemoryStorage
from adapters.redis.deployment import open_redis
from adapters.sql.database import open_database
from adapters.sql.storage import SqlStorage
from domain import ports
from domain import services as use_cases
from entrypoints.http import app as web
from entrypoints.http.feed_keeper import FeedKeeper
from entrypoints.http.metrics import Metrics
from entrypoints.server import request_clock
from entrypoints.server.lifecycle import Draining, drain_on_sigterm
from entrypoints.server.log_writer import count_drops_with
from entrypoints.server.rsgi_bridge import served_by
from settings import MEMORY_URL, Settings


def open_storage(settings: Settings, observer: Metrics | None = None) -> ports.Storage:
    """The configured store: in memory, SQLite or PostgreSQL."""
    if settings.database_url == MEMORY_URL:
        return MemoryStorage()
    db = open_database(settings.database_url, settings.pool)
    return SqlStorage(db, observer, arrival=request_clock.arrival)


def migrate(settings: Settings) -> list[str]:
    """Apply pending migrations; the names applied (none for the memory store)."""
    storage = open_storage(settings.without_statement_timeout())
    try:
        return storage.migrate(settings.server.migrate_wait_seconds)
    finally:
        storage.close()


def key_service(
    settings: Settings,
    storage: ports.Storage,
    clock: ports.Clock | None = None,
    notices: ports.RevocationNotices | None = None,
) -> use_cases.ApiKeyService:
    """API keys over the storage, revocations announced over Redis when it is
    configured; SettingsError when SECRET_KEY is missing."""
    if notices is None and settings.redis is not None:
        notices = open_redis(settings.redis, settings.cache_ttl_seconds).revocations
    secret, seconds = settings.auth.required_secret_key(), settings.auth.cache_seconds
    clock = clock or SystemClock()
    previous = settings.auth.previous_secret_keys
    return use_cases.ApiKeyService(storage, clock, secret, cache_seconds=seconds,
        notices=notices, previous_secret_keys=previous)  # fmt: skip


@contextmanager
def api_keys(settings: Settings) -> Iterator[use_cases.ApiKeyService]:
    """API keys over the configured store, closed after (the command line's)."""
    storage = open_storage(settings)
    try:
        yield key_service(settings, storage)
    finally:
        storage.close()


def bootstrap(
    *,
    settings: Settings | None = None,
    storage: ports.Storage | None = None,
    clock: ports.Clock | None = None,
    cache: ports.Cache | None = None,
    limiter: ports.RateLimiter | None = None,
    idempotency: ports.IdempotencyStore | None = None,
    readiness: web.Readiness | None = None,
    draining: Draining | None = None,
    metrics: Metrics | None = None,
    keep_feed: bool = False,
) -> web.WsgiApp:
    """The app with every dependency overridable; defaults are built here, now.
    keep_feed: run the change feed's upkeep in this process (entrypoints/http/
    feed_keeper.py), as a serving process does."""
    settings = settings or Settings()
    metrics = metrics or Metrics(settings.server.metrics_dir)
    storage = storage or open_storage(settings, metrics)
    clock = clock or SystemClock()
    redis = None
    if settings.redis is not None:
        redis = open_redis(settings.redis, settings.cache_ttl_seconds, metrics)
    cache = cache or (redis.cache if redis else MemoryCache(settings.cache_ttl_seconds))
    limiter = limiter or (redis.limiter if redis else MemoryRateLimiter())
    if idempotency is None:
        idempotency = redis.idempotency if redis else MemoryIdempotencyStore()
    both: ports.LimitedRead = SeparateLimitedRead(limiter, cache)
    if redis and (limiter, cache) == (redis.limiter, redis.cache):
        both = redis.limited_read  # one round trip for both
    feed = use_cases.ChangeFeed(storage, clock)
    services = web.Services(use_cases.EmployeeService(storage, clock),
                            use_cases.ManagerService(storage, clock),
                            use_cases.TeamService(storage, clock), feed)  # fmt: skip
    checks: dict[str, ports.HealthCheck] = {"redis": redis.health} if redis else {}
    if readiness is None:
        fail_closed, stopping = settings.http.rate_limits.fail_closed, draining
        active = (stopping or Draining()).active
        readiness = web.Readiness.of(storage, checks, fail_closed, active)
    notices = redis.revocations if redis else LocalRevocations()
    keys = None
    if not settings.auth.disabled:
        keys = key_service(settings, storage, clock, notices)
        notices.listen(keys.forget)
    shared = cache if settings.response_cache else None
    if keep_feed:  # not in every test's app: each would start two threads
        kept = None if isinstance(shared, MemoryCache) else shared  # dies with us
        FeedKeeper(feed, kept, settings.changes_retention_seconds, metrics).start()
    edge = web.EdgeDependencies(limiter, idempotency, keys, shared, metrics, both)
    return web.create_app(services, readiness, edge, settings.http)


def get_app() -> Any:
    """gunicorn's app (`bootstrap:get_app()`); granian's with SERVER=granian."""
    draining, settings = Draining(), Settings.from_env()
    drain_on_sigterm(draining)
    metrics = Metrics(settings.server.metrics_dir)
    count_drops_with(metrics.log_record_dropped)
    kept = bootstrap(settings=settings, draining=draining, metrics=metrics,
                     keep_feed=True)  # fmt: skip
    return served_by(settings, kept)


def main(argv: list[str] | None = None) -> int:
    """`employee-api`, wired to the configured store (no worker imports it)."""
    from entrypoints.cli import main as cli  # httpx, tqdm: ~6 MB a worker

    return cli.main(argv, cli.Wiring(migrate=migrate, api_keys=api_keys))


if __name__ == "__main__":
    sys.exit(main())

"""Composition root: reads configuration, builds adapters, returns the WSGI app.

The only module that knows every concrete class. Nothing here runs at import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from adapters.clock import SystemClock
from adapters.memory import MemoryUnitOfWorkFactory
from adapters.sql.database import PoolSettings, open_database
from adapters.sql.migrate import apply_migrations
from adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from domain.ports import Clock, HealthCheck, UnitOfWorkFactory
from domain.services import EmployeeService, ManagerService, TeamService
from entrypoints.app import Health, HttpSettings, Services, WsgiApp, create_app
from migrations import MIGRATIONS_DIR

DEFAULT_DATABASE_URL = "sqlite:///employees.sqlite3"
MEMORY_URL = "memory://"


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    max_body_bytes: int = 64 * 1024
    pool: PoolSettings = field(default_factory=PoolSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        url = env.get("DATABASE_URL") or env.get("POSTGRES_URL") or DEFAULT_DATABASE_URL
        return cls(
            database_url=url,
            max_body_bytes=int(env.get("MAX_BODY_BYTES", 64 * 1024)),
            pool=PoolSettings(
                max_connections=int(env.get("DB_POOL_SIZE", 10)),
                statement_timeout_ms=int(env.get("DB_STATEMENT_TIMEOUT_MS", 5000)),
            ),
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
    db = open_database(settings.database_url, settings.pool)
    try:
        return apply_migrations(db, MIGRATIONS_DIR)
    finally:
        db.close_all() if hasattr(db, "close_all") else db.close()


def bootstrap(
    *,
    settings: Settings | None = None,
    uow: UnitOfWorkFactory | None = None,
    clock: Clock | None = None,
    health: Health | None = None,
) -> WsgiApp:
    """The app with every dependency overridable; defaults are built here, now."""
    settings = settings or Settings()
    uow = uow or open_storage(settings)
    clock = clock or SystemClock()
    services = Services(
        employees=EmployeeService(uow, clock),
        managers=ManagerService(uow, clock),
        teams=TeamService(uow, clock),
    )
    health = health or Health(required={"database": _as_health_check(uow)})
    return create_app(services, health, HttpSettings(settings.max_body_bytes))


def _as_health_check(uow: UnitOfWorkFactory) -> HealthCheck:
    if not hasattr(uow, "ping"):
        raise TypeError("the unit-of-work factory cannot report its health")
    return uow  # type: ignore[return-value]


def get_app() -> WsgiApp:
    """Entry point for gunicorn: `gunicorn 'bootstrap:get_app()'`."""
    return bootstrap(settings=Settings.from_env(os.environ))

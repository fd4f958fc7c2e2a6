"""Shared fixtures: every storage adapter, and apps built through bootstrap."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import peewee as pw
import pytest
from falcon import testing

import bootstrap
from adapters.memory import MemoryUnitOfWorkFactory
from adapters.sql.database import open_database, sqlite_url
from adapters.sql.migrate import apply_migrations
from adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from domain.ports import Quota
from entrypoints.app import HttpSettings
from entrypoints.rate_limit import RateLimitSettings
from migrations import MIGRATIONS_DIR
from tests import services

STORES = ["memory", "sqlite", "postgres"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    why = services.answers(services.POSTGRES_ADMIN_URL, 5432)
    if why:
        services.unavailable("PostgreSQL", why)
    name = services.new_database_name()
    admin = open_database(services.POSTGRES_ADMIN_URL)
    admin.execute_sql(f'CREATE DATABASE "{name}"')
    url = services.with_database(services.POSTGRES_ADMIN_URL, name)
    db = open_database(url)
    apply_migrations(db, MIGRATIONS_DIR)
    db.close_all()
    yield url
    admin.execute_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close_all()


def empty_tables(db: pw.Database) -> None:
    db.connect(reuse_if_open=True)
    db.execute_sql("TRUNCATE employee, manager RESTART IDENTITY")
    db.close()


@pytest.fixture
def postgres_uow(postgres_url: str) -> Iterator[SqlUnitOfWorkFactory]:
    db = open_database(postgres_url)
    empty_tables(db)
    yield SqlUnitOfWorkFactory(db)
    db.close_all()


@pytest.fixture
def sqlite_uow(tmp_path: Path) -> Iterator[SqlUnitOfWorkFactory]:
    db = open_database(sqlite_url(tmp_path / "test.sqlite3"))
    apply_migrations(db, MIGRATIONS_DIR)
    yield SqlUnitOfWorkFactory(db)
    db.close()


@pytest.fixture
def memory_uow() -> MemoryUnitOfWorkFactory:
    return MemoryUnitOfWorkFactory()


@pytest.fixture(params=STORES)
def uow(request: pytest.FixtureRequest) -> object:
    """Each storage adapter in turn: the same test runs against all three."""
    return request.getfixturevalue(f"{request.param}_uow")


# Functional tests send many requests; rate limiting has tests of its own.
UNLIMITED = bootstrap.Settings(
    http=HttpSettings(
        rate_limits=RateLimitSettings(
            {"employees": Quota(1_000_000, 60), "managers": Quota(1_000_000, 60)}
        )
    )
)


def make_client(uow: object, **overrides: object) -> testing.TestClient:
    """The real app, built through bootstrap, without practical rate limits."""
    settings = overrides.pop("settings", UNLIMITED)
    return testing.TestClient(
        bootstrap.bootstrap(settings=settings, uow=uow, **overrides)  # type: ignore[arg-type]
    )


@pytest.fixture
def client(memory_uow: MemoryUnitOfWorkFactory) -> testing.TestClient:
    """The real app, built through bootstrap, over in-memory storage."""
    return make_client(memory_uow)


@pytest.fixture(params=STORES)
def any_client(request: pytest.FixtureRequest) -> testing.TestClient:
    """The real app over each storage adapter in turn."""
    return make_client(request.getfixturevalue(f"{request.param}_uow"))

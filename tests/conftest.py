"""Shared fixtures: every storage adapter, and apps built through bootstrap."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from falcon import testing

import bootstrap
from adapters.memory.cache import MemoryCache
from adapters.memory.storage import MemoryStorage
from adapters.redis.cache import RedisCache
from adapters.sql.database import open_database
from adapters.sql.migrate import apply_migrations
from adapters.sql.storage import SqlStorage
from domain.api_keys import Quota
from domain.ports import Cache, Storage
from migrations import MIGRATIONS_DIR
from settings import (
    AuthSettings,
    HttpSettings,
    RateLimitSettings,
    Settings,
)
from tests.distributed.support import SERVERS
from tests.support import services
from tests.support.clocks import ManualClock
from tests.support.pgbouncer import PgBouncer
from tests.support.redis_clients import service_redis
from tests.support.redis_cluster import RedisCluster, running_cluster
from tests.support.services import RedisServer, shared_redis, sqlite_url
from tests.support.tcp_proxy import TcpProxy

# "pgbouncer": the PostgreSQL database through PgBouncer in transaction
# pooling mode, as managed PostgreSQL is usually reached.
STORES = ["memory", "sqlite", "postgres", "pgbouncer"]


@pytest.fixture(params=SERVERS)
def http_server(request: pytest.FixtureRequest) -> str:
    """Each supported HTTP server in turn (SERVER): a test that takes this
    runs under gunicorn and under granian."""
    return str(request.param)


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


def emptied_storage(url: str) -> Iterator[SqlStorage]:
    """A storage on the PostgreSQL database at url, its tables emptied."""
    db = open_database(url)
    services.empty_tables(db)
    db.close()
    storage = SqlStorage(db)
    yield storage
    storage.close()


@pytest.fixture
def postgres_storage(postgres_url: str) -> Iterator[SqlStorage]:
    yield from emptied_storage(postgres_url)


@pytest.fixture(scope="session")
def pgbouncer(postgres_url: str) -> Iterator[PgBouncer]:
    """PgBouncer (transaction pooling) before the test PostgreSQL, one a session."""
    bouncer = PgBouncer(postgres_url)
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.close()


@pytest.fixture(scope="session")
def pgbouncer_url(pgbouncer: PgBouncer, postgres_url: str) -> str:
    """The session's PostgreSQL database, through PgBouncer."""
    return pgbouncer.url(postgres_url)


@pytest.fixture
def pgbouncer_storage(pgbouncer_url: str) -> Iterator[SqlStorage]:
    yield from emptied_storage(pgbouncer_url)


@pytest.fixture(params=["postgres", "pgbouncer"])
def any_postgres_url(request: pytest.FixtureRequest) -> str:
    """The session's PostgreSQL database, directly and through PgBouncer."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    """A TCP proxy to the test PostgreSQL that a test can cut and restore."""
    parts = urlsplit(postgres_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    proxy.start()
    yield proxy
    proxy.cut()


@pytest.fixture
def sqlite_storage(tmp_path: Path) -> Iterator[SqlStorage]:
    storage = SqlStorage(open_database(sqlite_url(tmp_path / "test.sqlite3")))
    storage.migrate()
    yield storage
    storage.close()


@pytest.fixture
def memory_storage() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture(params=STORES)
def storage(request: pytest.FixtureRequest) -> Storage:
    """Each storage adapter in turn: the same test runs against all of them."""
    store: Storage = request.getfixturevalue(f"{request.param}_storage")
    return store


# Functional tests send many requests; rate limiting has tests of its own.
UNLIMITED = Settings(
    auth=AuthSettings(disabled=True),
    http=HttpSettings(
        rate_limits=RateLimitSettings(
            {
                "employees": Quota(1_000_000, 60),
                "managers": Quota(1_000_000, 60),
                "changes": Quota(1_000_000, 60),
            }
        )
    ),
)


def make_client(storage: object, **overrides: object) -> testing.TestClient:
    """The real app, built through bootstrap, without practical rate limits."""
    settings = overrides.pop("settings", UNLIMITED)
    return testing.TestClient(
        bootstrap.bootstrap(settings=settings, storage=storage, **overrides)  # type: ignore[arg-type]
    )


@pytest.fixture
def client(memory_storage: MemoryStorage) -> testing.TestClient:
    """The real app, built through bootstrap, over in-memory storage."""
    return make_client(memory_storage)


@pytest.fixture(params=STORES)
def any_client(request: pytest.FixtureRequest) -> testing.TestClient:
    """The real app over each storage adapter in turn."""
    return make_client(request.getfixturevalue(f"{request.param}_storage"))


# Redis, and the cache adapters over it


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


@pytest.fixture(scope="session")
def _session_redis_cluster(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RedisCluster]:
    """One Redis Cluster for the session: starting one takes seconds."""
    with running_cluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster


@pytest.fixture
def redis_cluster(_session_redis_cluster: RedisCluster) -> RedisCluster:
    """The session's Redis Cluster, flushed; a test must not kill its nodes."""
    _session_redis_cluster.flush()
    return _session_redis_cluster


@pytest.fixture
def own_redis_cluster(tmp_path: Path) -> Iterator[RedisCluster]:
    """A Redis Cluster of this test's own, running; the test may kill nodes."""
    with running_cluster(tmp_path) as cluster:
        yield cluster


@pytest.fixture
def fake_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["memory", "redis"])
def any_cache(request: pytest.FixtureRequest) -> Iterator[Cache]:
    """Each cache adapter in turn (Redis on the flushed test database)."""
    if request.param == "memory":
        yield MemoryCache()
        return
    request.getfixturevalue("redis_db")
    made = service_redis()
    yield RedisCache(made.lane, made.breaker)
    made.client.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stack",
        action="store_true",
        help="run tests/stack: the image and compose stack (make container-test)",
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """tests/stack needs a container engine and minutes: make container-test."""
    if collection_path.name == "stack" and not config.getoption("--stack"):
        return True
    return None

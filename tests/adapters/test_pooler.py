"""The database behind a transaction pooler (PgBouncer, pool_mode =
transaction), as managed PostgreSQL is usually reached, and directly: the
statement timeout holds without session settings or startup options, a
leaked migration lock is named with what to do, and a refused connection
says what refused it."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import psycopg2
import pytest

from adapters.sql.database import open_database
from adapters.sql.migrate import _ADVISORY_LOCK_KEY
from adapters.sql.storage import SqlStorage
from domain.errors import StorageUnavailable
from settings import PoolSettings
from tests.support.processes import employee_api

pytestmark = pytest.mark.postgres

TIMEOUT_MS = 300


@pytest.fixture
def slow_storage(any_postgres_url: str) -> Iterator[SqlStorage]:
    storage = SqlStorage(
        open_database(any_postgres_url, PoolSettings(statement_timeout_ms=TIMEOUT_MS))
    )
    yield storage
    storage.close()


@pytest.mark.parametrize("unit", ["read", "transaction", "lone statement"])
def test_a_statement_past_the_timeout_is_cancelled_at_the_timeout(
    slow_storage: SqlStorage, unit: str
) -> None:
    opened = {
        "read": lambda: slow_storage(write=False),
        "transaction": lambda: slow_storage(write=True),
        "lone statement": lambda: slow_storage(write=True, alone=True),
    }[unit]
    for _ in range(2):  # and again, on a connection the pool lends again
        started = time.monotonic()
        with pytest.raises(StorageUnavailable) as refused, opened():
            slow_storage.db.execute_sql("SELECT pg_sleep(3)")
        took = time.monotonic() - started
        cause = refused.value.__cause__
        # The server's statement timeout, not the client's deadline.
        assert getattr(getattr(cause, "orig", None), "pgcode", None) == "57014", cause
        assert TIMEOUT_MS / 1000 <= took < TIMEOUT_MS / 1000 + 0.5, took
    with opened():  # the connection is fine afterwards
        assert slow_storage.db.execute_sql("SELECT 1").fetchone() == (1,)


def test_the_timeout_is_never_left_on_a_pooled_server_connection(
    pgbouncer_url: str,
) -> None:
    """Through the pooler, another client of the same server connections sees
    the server's own default: nothing of ours stays in the session."""
    storage = SqlStorage(
        open_database(pgbouncer_url, PoolSettings(statement_timeout_ms=TIMEOUT_MS))
    )
    for alone in (False, True):
        with storage(write=True, alone=alone):
            storage.db.execute_sql("SELECT 1")
    storage.close()
    others = [psycopg2.connect(pgbouncer_url) for _ in range(5)]
    try:
        for other in others:
            other.autocommit = True
            cursor = other.cursor()
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone() == ("0",)
    finally:
        for other in others:
            other.close()


def take_a_session_lock(url: str) -> tuple[psycopg2.extensions.connection, int]:
    """The migration lock taken as a session lock (as an older migrator did),
    on a connection; the backend holding it."""
    holder = psycopg2.connect(url)
    holder.autocommit = True
    cursor = holder.cursor()
    cursor.execute(
        "SELECT pg_advisory_lock(%s), pg_backend_pid()", (_ADVISORY_LOCK_KEY,)
    )
    _, pid = cursor.fetchone()
    return holder, int(pid)


def migrate_within(url: str, seconds: str) -> subprocess.CompletedProcess[str]:
    return employee_api(
        "migrate", env={"DATABASE_URL": url, "MIGRATE_WAIT_SECONDS": seconds}
    )


def assert_named_with_what_to_do(
    stuck: subprocess.CompletedProcess[str], pid: int
) -> None:
    assert stuck.returncode == 1, stuck.stderr
    assert f"held by PostgreSQL backend {pid}" in stuck.stderr
    assert f"pg_terminate_backend({pid})" in stuck.stderr
    assert "Traceback" not in stuck.stderr


@pytest.fixture
def admin(postgres_url: str) -> Iterator[psycopg2.extensions.connection]:
    """A direct connection; at the end it ends whatever holds the lock."""
    connection = psycopg2.connect(postgres_url)
    connection.autocommit = True
    yield connection
    connection.cursor().execute(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = "
        "'advisory' AND objid = %s",
        (_ADVISORY_LOCK_KEY & 0xFFFFFFFF,),
    )
    connection.close()


def test_a_left_over_lock_is_named_with_what_to_do_then_migrate_finishes(
    any_postgres_url: str, postgres_url: str, admin: psycopg2.extensions.connection
) -> None:
    """A session left holding the lock (a migrator of an earlier version
    whose process hangs) stops migrate within MIGRATE_WAIT_SECONDS with the
    backend to end; ended, migrate goes through, directly or via the pooler."""
    holder, pid = take_a_session_lock(postgres_url)
    started = time.monotonic()
    stuck = migrate_within(any_postgres_url, "1")
    assert time.monotonic() - started < 15
    assert_named_with_what_to_do(stuck, pid)
    admin.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
    holder.close()
    done = migrate_within(any_postgres_url, "5")
    assert done.returncode == 0, done.stderr
    assert "applied 0 migration(s)" in done.stdout


def test_a_lock_leaked_through_the_pooler_cannot_wedge_migrate(
    pgbouncer_url: str, admin: psycopg2.extensions.connection
) -> None:
    """A session lock taken through PgBouncer stays on the server connection
    after its client leaves. The next migrate lands on that connection (the
    lock is its session's own: it goes through) or on another (it is told
    which backend to end); either way it never hangs."""
    leaver, pid = take_a_session_lock(pgbouncer_url)
    leaver.close()
    first = migrate_within(pgbouncer_url, "1")
    if first.returncode != 0:
        assert_named_with_what_to_do(first, pid)
        admin.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
        first = migrate_within(pgbouncer_url, "5")
    assert first.returncode == 0, first.stderr
    assert "applied 0 migration(s)" in first.stdout


def test_a_refused_startup_parameter_is_said_at_once_not_waited_for(
    pgbouncer_url: str,
) -> None:
    with_options = f"{pgbouncer_url}?options=-c%20statement_timeout%3D1000"
    started = time.monotonic()
    refused = employee_api(
        "migrate", env={"DATABASE_URL": with_options, "MIGRATE_WAIT_SECONDS": "30"}
    )
    assert time.monotonic() - started < 10
    assert refused.returncode == 1
    assert "the database refused the connection" in refused.stderr
    assert "unsupported startup parameter: options" in refused.stderr
    assert "does not answer yet" not in refused.stderr
    assert "Traceback" not in refused.stderr

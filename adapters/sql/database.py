"""Opening a peewee database from a URL, with the settings each engine needs."""

from __future__ import annotations

import select
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import peewee as pw
import psycopg2
import psycopg2.extensions
from playhouse.pool import PooledPostgresqlDatabase

from settings import PoolSettings


def open_database(url: str, pool: PoolSettings | None = None) -> pw.Database:
    """A database for sqlite:///path or postgresql://user@host/db URLs."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return _sqlite(unquote(parts.path))
    if parts.scheme in ("postgres", "postgresql"):
        return _postgres(url, pool or PoolSettings())
    raise ValueError(f"unsupported database URL scheme {parts.scheme!r}")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _sqlite(path: str) -> pw.SqliteDatabase:
    # sqlite:///rel/path is relative, sqlite:////abs/path absolute.
    return pw.SqliteDatabase(
        path[1:],
        pragmas={
            "journal_mode": "wal",
            "foreign_keys": 1,
            "busy_timeout": 5000,
            "synchronous": "normal",
            "journal_size_limit": 64 * 1024 * 1024,  # the WAL shrinks back after bursts
        },
    )


_deadline: dict[str, float | None] = {"seconds": 10.0}
# The deadline of the unit of work this thread runs, if any: one budget for
# the pool's check-out ping, any reconnect and every statement together.
_work = threading.local()


def work_begins() -> None:
    """From now until work_ends(), this thread's database calls share one
    deadline, so a frozen server costs a request the limit once, not once
    per pooled connection the pool tries and once more to reconnect."""
    limit = _deadline["seconds"]
    _work.until = None if limit is None else time.monotonic() + limit


def work_ends() -> None:
    _work.until = None


def _wait_with_deadline(conn: Any) -> None:
    """psycopg2 wait callback: a client-side deadline on every round trip.

    statement_timeout and keepalives cannot end a request whose server (or a
    proxy before it) stopped answering while keeping the connection open; the
    request would hang and pin a worker thread. Raising here ends it, and the
    unit of work drops the connection."""
    limit = _deadline["seconds"]
    deadline = None if limit is None else time.monotonic() + limit
    until = getattr(_work, "until", None)
    if until is not None:
        deadline = until if deadline is None else min(deadline, until)
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise psycopg2.OperationalError("the database did not answer in time")
        fileno = conn.fileno()
        if state == psycopg2.extensions.POLL_READ:
            select.select([fileno], [], [], remaining)
        elif state == psycopg2.extensions.POLL_WRITE:
            select.select([], [fileno], [], remaining)
        else:
            raise psycopg2.OperationalError(f"unexpected poll state {state}")


def _postgres(url: str, pool: PoolSettings) -> PooledPostgresqlDatabase:
    # Process-wide (psycopg2 has no per-connection wait callback): the
    # deadline is the statement timeout plus slack for the network; none
    # when statements may run as long as they like (migrations).
    timeout_ms = pool.statement_timeout_ms
    _deadline["seconds"] = timeout_ms / 1000 + 2 if timeout_ms > 0 else None
    psycopg2.extensions.set_wait_callback(_wait_with_deadline)
    parts = urlsplit(url)
    extra = dict(parse_qsl(parts.query))
    return PooledPostgresqlDatabase(
        unquote(parts.path.lstrip("/")) or "postgres",
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        host=parts.hostname or None,
        port=parts.port or 5432,
        max_connections=pool.max_connections,
        timeout=pool.wait_seconds,
        stale_timeout=300,
        connect_timeout=pool.connect_timeout,
        # A dead server must cost a request seconds, not a hung worker.
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=5,
        keepalives_count=3,
        options=f"-c statement_timeout={pool.statement_timeout_ms} -c timezone=UTC",
        **extra,
    )


def is_postgres(db: pw.Database) -> bool:
    return isinstance(db, pw.PostgresqlDatabase)

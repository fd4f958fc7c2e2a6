"""Opening a peewee database from a URL, with the settings each engine needs."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

import peewee as pw

from adapters.sql.deadline import limit_round_trips
from adapters.sql.pool import PostgresPool
from settings import PoolSettings


def open_database(url: str, pool: PoolSettings | None = None) -> pw.Database:
    """A database for sqlite:///path or postgresql://user@host/db URLs."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return _sqlite(unquote(parts.path))
    if parts.scheme in ("postgres", "postgresql"):
        return _postgres(url, pool or PoolSettings())
    raise ValueError(f"unsupported database URL scheme {parts.scheme!r}")


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


def _postgres(url: str, pool: PoolSettings) -> PostgresPool:
    limit_round_trips(pool.statement_timeout_ms)
    parts = urlsplit(url)
    extra = dict(parse_qsl(parts.query))
    return PostgresPool(
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
        # Set per transaction, not per session (adapters/sql/lazy_begin.py);
        # no time zone either: timestamps are read back as UTC (tables.py).
        statement_timeout_ms=pool.statement_timeout_ms,
        **extra,
    )


def is_postgres(db: pw.Database) -> bool:
    return isinstance(db, pw.PostgresqlDatabase)

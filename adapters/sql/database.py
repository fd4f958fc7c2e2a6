"""Opening a peewee database from a URL, with the settings each engine needs."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import peewee as pw
from playhouse.pool import PooledPostgresqlDatabase


@dataclass(frozen=True, slots=True)
class PoolSettings:
    max_connections: int = 10
    wait_seconds: float = 5.0  # how long a request waits for a free connection
    connect_timeout: int = 3
    statement_timeout_ms: int = 5000


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
        },
    )


class _IdleCheckedPool(PooledPostgresqlDatabase):  # type: ignore[misc]
    """peewee checks every pooled connection with a round trip (SELECT 1) at
    check-out. Do that only for connections idle for a while: a connection
    used a moment ago is almost surely alive, and if not, the request gets a
    503 and the broken connection is dropped (see SqlUnitOfWork)."""

    idle_check_seconds = 5.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._checked_in: dict[int, float] = {}

    def _can_reuse(self, conn: Any) -> bool:
        self._checked_in[self.conn_key(conn)] = time.monotonic()
        return bool(super()._can_reuse(conn))

    def _is_closed(self, conn: Any) -> bool:
        since = self._checked_in.pop(self.conn_key(conn), None)
        recently_used = since is not None and (
            time.monotonic() - since < self.idle_check_seconds
        )
        if recently_used and not conn.closed and self._idle(conn):
            return False
        return bool(super()._is_closed(conn))

    def _idle(self, conn: Any) -> bool:
        return bool(self._adapter.txn_status(conn) == self._adapter.txn_idle)


def _postgres(url: str, pool: PoolSettings) -> PooledPostgresqlDatabase:
    parts = urlsplit(url)
    extra = dict(parse_qsl(parts.query))
    return _IdleCheckedPool(
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

"""Opening a peewee database from a URL, with the settings each engine needs."""

from __future__ import annotations

import heapq
import select
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import peewee as pw
import psycopg2
import psycopg2.extensions
from peewee import PostgresqlDatabase
from playhouse.pool import (
    MaxConnectionsExceeded,
    PoolConnection,
    PooledPostgresqlDatabase,
)

from adapters.sql.lazy_begin import LazyBegin
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


def work_begins(arrived_at: float) -> None:
    """Until work_ends(), this thread's database calls share one deadline,
    counted from the request's arrival (time.monotonic()): a frozen server
    costs a request the limit once, not once per pooled connection the pool
    tries, once more to reconnect, and again for the time it queued behind
    stuck requests."""
    limit = _deadline["seconds"]
    _work.until = None if limit is None else arrived_at + limit


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


class _Pool(LazyBegin, PooledPostgresqlDatabase):  # type: ignore[misc]
    """peewee's pool, minus its two ways of stalling every thread behind one.

    peewee holds a database-wide lock while it connects, and the pool's lock
    while it checks a pooled connection out with a `SELECT 1`: against a
    frozen server one thread's stall held all the others past their own
    deadlines. Here the pool's lock covers only its bookkeeping: a pooled
    connection is checked without a round trip (a closed or terminated one
    has its socket readable: an EOF or the server's goodbye), and a new one
    is made outside any lock, its slot reserved."""

    _connecting = 0

    def connect(self, reuse_if_open: bool = False) -> bool:
        until = getattr(_work, "until", None)
        wait = self._wait_timeout or 0.0
        expires = time.monotonic() + wait
        if until is not None:
            expires = min(expires, until)
        while True:
            try:
                return self._connect_here(reuse_if_open)
            except MaxConnectionsExceeded:
                remaining = expires - time.monotonic()
                if remaining <= 0:
                    raise
                with self._pool_available:
                    self._pool_available.wait(timeout=min(remaining, 1.0))

    def _connect_here(self, reuse_if_open: bool) -> bool:
        if not self._state.closed:
            if reuse_if_open:
                return False
            raise pw.OperationalError("Connection already opened.")
        self._state.reset()
        self.forget_transaction()  # left by a unit of work that failed early
        with pw.__exception_wrapper__:  # type: ignore[attr-defined]
            self._state.set_connection(self._connect())
            if self.server_version is None:
                self._set_server_version(self._state.conn)
            self._initialize_connection(self._state.conn)
        return True

    def _connect(self) -> Any:
        with self._pool_lock:
            while self._connections:
                stamp, _, conn = heapq.heappop(self._connections)
                if self._is_closed(conn) or self._is_stale(stamp):
                    self._close_raw(conn)
                    continue
                self._in_use[id(conn)] = PoolConnection(stamp, conn, time.time())
                return conn
            if len(self._in_use) + self._connecting >= self._max_connections:
                raise MaxConnectionsExceeded("Exceeded maximum connections.")
            self._connecting += 1
        try:
            conn = PostgresqlDatabase._connect(self)  # type: ignore[attr-defined]
        finally:
            with self._pool_lock:
                self._connecting -= 1
        with self._pool_lock:
            self._in_use[id(conn)] = PoolConnection(time.time(), conn, time.time())
        return conn

    def _is_closed(self, conn: Any) -> bool:
        if conn.closed:
            return True
        if conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            return True
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
        return bool(readable)


def _postgres(url: str, pool: PoolSettings) -> PooledPostgresqlDatabase:
    # Process-wide (psycopg2 has no per-connection wait callback): the
    # deadline is the statement timeout plus slack for the network; none
    # when statements may run as long as they like (migrations).
    timeout_ms = pool.statement_timeout_ms
    _deadline["seconds"] = timeout_ms / 1000 + 2 if timeout_ms > 0 else None
    psycopg2.extensions.set_wait_callback(_wait_with_deadline)
    parts = urlsplit(url)
    extra = dict(parse_qsl(parts.query))
    return _Pool(
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

"""Every private name of peewee that the SQL adapters use, in one place.

peewee has no public way to connect a pooled database outside its locks, to
check a pooled connection without a round trip, or to count the pool's
connections (adapters/sql/pool.py says why each matters). What the pool needs
of peewee's insides is reached through the functions here, and only here;
PRIVATE_NAMES lists each name, and a test checks them against the installed
peewee, naming whichever an upgrade renamed or removed.
"""

from __future__ import annotations

import heapq
import threading
import time
from contextlib import AbstractContextManager
from typing import Any

import peewee as pw
from peewee import PostgresqlDatabase
from playhouse.pool import PoolConnection, PooledDatabase

# "module:attribute path"; an attribute a constructor sets counts as present.
PRIVATE_NAMES = (
    "peewee:__exception_wrapper__",
    "peewee:Database._state",
    "peewee:Database._set_server_version",
    "peewee:Database._initialize_connection",
    "peewee:PostgresqlDatabase._isolation_level",
    "peewee:PostgresqlDatabase._connect",
    "playhouse.pool:PooledDatabase._pool_lock",
    "playhouse.pool:PooledDatabase._pool_available",
    "playhouse.pool:PooledDatabase._connections",
    "playhouse.pool:PooledDatabase._in_use",
    "playhouse.pool:PooledDatabase._max_connections",
    "playhouse.pool:PooledDatabase._wait_timeout",
    "playhouse.pool:PooledDatabase._is_stale",
    "playhouse.pool:PooledDatabase._close_raw",
)


# The database's connection, per thread (peewee's _ConnectionState).


def connection_state(db: pw.Database) -> Any:
    """This thread's connection state: .closed, .conn, .reset(), .set_connection()."""
    return db._state  # type: ignore[attr-defined]


def driver_errors() -> AbstractContextManager[None]:
    """Turns the driver's exceptions into peewee's, as Database.connect does."""
    wrapper: AbstractContextManager[None]
    wrapper = pw.__exception_wrapper__  # type: ignore[attr-defined]
    return wrapper


def new_connection(db: PostgresqlDatabase) -> Any:
    """A new driver connection, as PostgresqlDatabase makes one: no pool."""
    return PostgresqlDatabase._connect(db)  # type: ignore[attr-defined]


def prepare_connection(db: pw.Database, conn: Any) -> None:
    """What Database.connect does with a connection once it has one."""
    if db.server_version is None:
        db._set_server_version(conn)  # type: ignore[attr-defined]
    db._initialize_connection(conn)  # type: ignore[attr-defined]


def isolation_level(db: PostgresqlDatabase) -> Any:
    return db._isolation_level  # type: ignore[attr-defined]


# The pool's bookkeeping: a heap of idle connections, a map of those in use.


def pool_lock(pool: PooledDatabase) -> threading.RLock:
    lock: threading.RLock = pool._pool_lock
    return lock


def pool_available(pool: PooledDatabase) -> threading.Condition:
    """Notified whenever a connection goes back to the pool."""
    available: threading.Condition = pool._pool_available
    return available


def wait_timeout(pool: PooledDatabase) -> float:
    """How long a check-out waits for a free connection (0: not at all)."""
    return float(pool._wait_timeout or 0.0)


def max_connections(pool: PooledDatabase) -> int:
    return int(pool._max_connections)


def take_idle(pool: PooledDatabase) -> tuple[float, Any] | None:
    """The oldest idle connection and when it was made, out of the pool; None
    when none is idle. The caller holds pool_lock."""
    if not pool._connections:
        return None
    stamp, _, conn = heapq.heappop(pool._connections)
    return stamp, conn


def check_out(pool: PooledDatabase, conn: Any, made: float) -> None:
    """Count conn as in use (made: when it was connected). Holding pool_lock."""
    pool._in_use[id(conn)] = PoolConnection(made, conn, time.time())


def is_stale(pool: PooledDatabase, made: float) -> bool:
    return bool(pool._is_stale(made))


def close_quietly(pool: PooledDatabase, conn: Any) -> None:
    """Close a driver connection the pool no longer counts; errors are logged."""
    pool._close_raw(conn)


def counts(pool: PooledDatabase) -> tuple[int, int]:
    """(in use, idle): peewee keeps no public count."""
    return len(pool._in_use), len(pool._connections)

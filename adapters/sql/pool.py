"""peewee's PostgreSQL pool, minus its two ways of stalling every thread
behind one, and with one deadline per unit of work.

peewee holds a database-wide lock while it connects, and the pool's lock
while it checks a pooled connection out with a `SELECT 1`: against a frozen
server one thread's stall held all the others past their own deadlines. Here
the pool's lock covers only its bookkeeping: a pooled connection is checked
without a round trip (a closed or terminated one has its socket readable: an
EOF or the server's goodbye), and a new one is made outside any lock, its slot
reserved. peewee offers no public hook for either: what this needs of its
insides goes through adapters/sql/peewee_private.py.
"""

from __future__ import annotations

import select
import time
from typing import Any

import peewee as pw
import psycopg2.extensions
from playhouse.pool import MaxConnectionsExceeded, PooledPostgresqlDatabase

from adapters.sql import peewee_private as private
from adapters.sql.deadline import wait_for, work_deadline
from adapters.sql.lazy_begin import LazyBegin


class PostgresPool(LazyBegin, PooledPostgresqlDatabase):  # type: ignore[misc]
    _connecting = 0

    def connect(self, reuse_if_open: bool = False) -> bool:
        expires = time.monotonic() + private.wait_timeout(self)
        until = work_deadline()  # a check-out waits no longer than the work may
        if until is not None:
            expires = min(expires, until)
        while True:
            try:
                return self._connect_here(reuse_if_open)
            except MaxConnectionsExceeded:
                remaining = expires - time.monotonic()
                if remaining <= 0:
                    raise
                with private.pool_available(self):
                    private.pool_available(self).wait(timeout=min(remaining, 1.0))

    def in_use_and_idle(self) -> tuple[int, int]:
        """How many connections are checked out, and how many wait idle."""
        with private.pool_lock(self):
            return private.counts(self)

    def _connect_here(self, reuse_if_open: bool) -> bool:
        """Database.connect, without the database-wide lock."""
        state = private.connection_state(self)
        if not state.closed:
            if reuse_if_open:
                return False
            raise pw.OperationalError("Connection already opened.")
        state.reset()
        self.forget_transaction()  # left by a unit of work that failed early
        with private.driver_errors():
            state.set_connection(self._check_out())
            private.prepare_connection(self, state.conn)
        return True

    def _check_out(self) -> Any:
        with private.pool_lock(self):
            while (idle := private.take_idle(self)) is not None:
                made, conn = idle
                if _unusable(conn) or private.is_stale(self, made):
                    private.close_quietly(self, conn)
                    continue
                private.check_out(self, conn, made)
                return conn
            in_use, _ = private.counts(self)
            if in_use + self._connecting >= private.max_connections(self):
                raise MaxConnectionsExceeded("Exceeded maximum connections.")
            self._connecting += 1
        try:
            conn = private.new_connection(self)
        finally:
            with private.pool_lock(self):
                self._connecting -= 1
        with private.pool_lock(self):
            private.check_out(self, conn, time.time())
        return conn


def _unusable(conn: Any) -> bool:
    """Closed, mid-transaction, or with something to read while idle (the
    server's goodbye, or EOF): not to be handed out."""
    if conn.closed:
        return True
    if conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
        return True
    return wait_for(conn.fileno(), select.POLLIN, 0)

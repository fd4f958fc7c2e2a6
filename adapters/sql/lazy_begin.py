"""A write transaction's BEGIN goes out with its first statement, for the
PostgreSQL pool to mix in: "BEGIN; SELECT ..." is one exchange, where BEGIN
alone would be one more. A transaction that ran no statement sends neither
BEGIN nor its COMMIT or ROLLBACK.

The statement timeout goes out the same way, as `SET LOCAL statement_timeout`
(and an idle-in-transaction timeout of at most a second) at the head of each transaction
and of each statement sent outside one (a query string of several statements
is one implicit transaction, so SET LOCAL holds for the statement after it).
Nothing is set for the session, nor sent as a startup option: a transaction
pooler (PgBouncer in transaction mode) refuses startup options and lends a
session's server connection to other clients between transactions, so a
session setting would neither hold for this client nor stay out of another's.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import psycopg2.extensions

from adapters.sql import peewee_private as private

_IDLE = psycopg2.extensions.TRANSACTION_STATUS_IDLE
IDLE_IN_TRANSACTION_MS = 1000
# What PostgreSQL refuses in a transaction block, implicit ones included: sent
# alone, without the timeout (administration, never the service's requests).
_ALONE = re.compile(
    r"\s*(BEGIN|(CREATE|DROP)\s+(DATABASE|TABLESPACE)|VACUUM|ALTER\s+SYSTEM)"
    r"|.*\bCONCURRENTLY\b",
    re.IGNORECASE | re.DOTALL,
)


class LazyBegin:
    """A mixin for peewee's PostgresqlDatabase (before it in the bases).
    statement_timeout_ms: what every statement may take (0: no limit)."""

    def __init__(
        self, *args: Any, statement_timeout_ms: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._begin = threading.local()  # this thread's transaction: BEGIN unsent
        # An open transaction holds the change feed back (its readers stop at
        # the oldest running transaction), so one of ours left idle ends
        # within a second: the feed's promise. The service never idles in one.
        ms = int(statement_timeout_ms)
        idle = min(ms, IDLE_IN_TRANSACTION_MS) if ms else 0
        self._head = (
            f"SET LOCAL statement_timeout = {ms}; "
            f"SET LOCAL idle_in_transaction_session_timeout = {idle}; "
        )

    def begin(self, isolation_level: Any = None) -> None:
        if isolation_level is not None or private.isolation_level(self):  # type: ignore[arg-type]
            super().begin(isolation_level)  # type: ignore[misc]
            self._begin.head = True  # BEGIN went alone: the next statement sets it
        else:
            self._begin.pending = True

    def execute_sql(self, sql: str, params: Any = None) -> Any:
        mine = self._begin
        if getattr(mine, "pending", False):
            mine.pending = False
            sql = f"BEGIN; {self._head}{sql}"
        elif getattr(mine, "head", False) or self._outside_transaction(sql):
            mine.head = False
            sql = f"{self._head}{sql}"
        return super().execute_sql(sql, params)  # type: ignore[misc]

    def commit(self) -> None:
        if not self.forget_transaction():
            super().commit()  # type: ignore[misc]

    def rollback(self) -> None:
        if not self.forget_transaction():
            super().rollback()  # type: ignore[misc]

    def forget_transaction(self) -> bool:
        """Drop a BEGIN not sent yet (a connection checked out again starts
        clean); whether there was one."""
        pending = bool(getattr(self._begin, "pending", False))
        self._begin.pending = False
        self._begin.head = False
        return pending

    def _outside_transaction(self, sql: str) -> bool:
        """Whether sql runs in no transaction and may run in one: this
        thread's connection is in none (libpq keeps the state: no round
        trip), and sql neither begins one nor refuses one."""
        if _ALONE.match(sql):
            return False
        connection = self.connection()  # type: ignore[attr-defined]
        return bool(connection.info.transaction_status == _IDLE)

"""A write transaction's BEGIN goes out with its first statement, for the
PostgreSQL pool to mix in: "BEGIN; SELECT ..." is one exchange, where BEGIN
alone would be one more. A transaction that ran no statement sends neither
BEGIN nor its COMMIT or ROLLBACK."""

from __future__ import annotations

import threading
from typing import Any

from adapters.sql import peewee_private as private


class LazyBegin:
    """A mixin for peewee's PostgresqlDatabase (before it in the bases)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._begin = threading.local()  # this thread's transaction: BEGIN unsent

    def begin(self, isolation_level: Any = None) -> None:
        if isolation_level is not None or private.isolation_level(self):  # type: ignore[arg-type]
            super().begin(isolation_level)  # type: ignore[misc]
        else:
            self._begin.pending = True

    def execute_sql(self, sql: str, params: Any = None) -> Any:
        if getattr(self._begin, "pending", False):
            self._begin.pending = False
            sql = f"BEGIN; {sql}"
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
        return pending

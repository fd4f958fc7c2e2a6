"""SQL storage: a unit of work is one database transaction on a pooled connection."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

import peewee as pw
from playhouse.pool import MaxConnectionsExceeded, PooledDatabase

from adapters.observer import BackendObserver, NoObserver
from adapters.outage_log import OutageLog
from adapters.sql.api_keys import SqlApiKeyRepository
from adapters.sql.changes import SqlChangeLog
from adapters.sql.database import is_postgres
from adapters.sql.deadline import work_begins, work_ends
from adapters.sql.pool import PostgresPool
from adapters.sql.repositories import SqlEmployeeRepository, SqlManagerRepository
from adapters.sql.tables import bind_tables
from domain.errors import ConcurrentUpdate, OutcomeUnknown, StorageUnavailable
from migrations import MIGRATIONS_DIR

log = logging.getLogger(__name__)

# Errors that mean "the database is not answering", as opposed to a bad query.
_OUTAGE = (pw.OperationalError, pw.InterfaceError, MaxConnectionsExceeded)
# PostgreSQL error codes, by what they mean for the request and the connection:
# deadlock_detected, serialization_failure: a lost race; a retry may win.
_LOST_RACE = {"40P01", "40001"}
# query_canceled (statement_timeout): the server is slow, the connection fine.
_TIMED_OUT = {"57014"}
# read_only_sql_transaction: we reached a standby (after a failover); drop
# the connection so the next one finds the primary.
_READ_ONLY = {"25006"}
# undefined_table, undefined_column: the code is newer than the schema (a
# rolling deploy before `employee-api migrate`): unavailable, not a bug to 500.
_NOT_MIGRATED = {"42P01", "42703"}


def _pgcode(exc: BaseException | None) -> str | None:
    code = getattr(getattr(exc, "orig", None), "pgcode", None)
    return code if isinstance(code, str) else None


class SqlUnitOfWork:
    def __init__(self, factory: SqlStorage, write: bool, lone_write: bool) -> None:
        self._db = factory.db
        self._observer = factory.observer
        self._outage = factory.outage
        self._arrival = factory.arrival
        self._write = write
        # A write whose fate the database decides once it has the statement:
        # a COMMIT, or a lone statement in autocommit.
        self._sent_write = lone_write
        self._committed = False
        self._pooled = isinstance(self._db, PooledDatabase)
        self.employees = factory.employees
        self.managers = factory.managers
        self.api_keys = factory.api_keys
        self.changes = factory.changes

    def __enter__(self) -> Self:
        work_begins(self._arrival())
        try:
            self._db.connect(reuse_if_open=True)
            if self._write:
                # SQLite: take the write lock up front, so two writers never
                # deadlock upgrading shared locks.
                self._db.begin(*(() if is_postgres(self._db) else ("IMMEDIATE",)))
        except _OUTAGE as exc:
            self._discard()
            work_ends()
            raise self._unavailable(exc) from exc
        return self

    def commit(self) -> None:
        if self._write:  # else there is no transaction: nothing to commit
            self._sent_write = True
            self._db.commit()
            self._committed = True
        self._write = False

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._settle(exc)
        finally:
            work_ends()

    def _settle(self, exc: BaseException | None) -> None:
        code = _pgcode(exc)
        if code in _LOST_RACE:
            self._end()
            self._outage.answered()
            raise ConcurrentUpdate() from exc
        if code in _TIMED_OUT or code in _NOT_MIGRATED:
            self._end()
            raise self._unavailable(exc) from exc
        if code in _READ_ONLY or isinstance(exc, _OUTAGE):
            self._discard()
            unavailable = self._unavailable(exc)
            if self._sent_write and code not in _READ_ONLY:
                raise OutcomeUnknown() from exc  # no answer to a write sent
            raise unavailable from exc
        # A confirmed commit stands, whatever returning the connection does.
        self._end(raise_outage=exc is None and not self._committed)
        self._outage.answered()

    def _end(self, raise_outage: bool = False) -> None:
        """Roll back unless committed, and return the connection to the pool."""
        try:
            if self._write:
                self._db.rollback()
            if self._pooled:
                self._db.close()  # back to the pool
                if isinstance(self._db, PostgresPool):
                    self._observer.pool_changed(*self._db.in_use_and_idle())
            # SQLite keeps one connection per thread open: reopening it would
            # cost a file open and four PRAGMAs per request.
        except _OUTAGE as close_exc:
            self._discard()
            if raise_outage:
                raise self._unavailable(close_exc) from close_exc

    def _unavailable(self, cause: BaseException | None = None) -> StorageUnavailable:
        self._observer.backend_failed("database", _failure_kind(cause))
        self._outage.failed(cause)
        return StorageUnavailable()

    def _discard(self) -> None:
        """Drop a connection that failed instead of returning it to the pool."""
        try:
            if isinstance(self._db, PooledDatabase):
                self._db.manual_close()
                # A restarted server broke the idle connections too.
                self._db.close_idle()
            else:
                self._db.close()
        except Exception:  # the connection is broken already; nothing to save
            log.debug("closing a broken connection failed", exc_info=True)


class SqlStorage:
    """Units of work over one peewee database (SQLite or PostgreSQL)."""

    def __init__(
        self,
        db: pw.Database,
        observer: BackendObserver | None = None,
        arrival: Callable[[], float] = time.monotonic,
    ) -> None:
        """arrival: when the request being served arrived (time.monotonic());
        its database deadline counts from then, queueing included."""
        self.db = db
        self.observer = observer or NoObserver()
        self.observer.failures_expected("database", FAILURE_KINDS)
        self.outage = OutageLog("database")
        self.arrival = arrival
        tables = bind_tables(db)
        postgres = is_postgres(db)
        self.employees = SqlEmployeeRepository(tables.employee, postgres)
        self.managers = SqlManagerRepository(tables.manager, postgres)
        self.api_keys = SqlApiKeyRepository(tables.api_key)
        self.changes = SqlChangeLog(db, postgres)

    def __call__(self, *, write: bool = True, alone: bool = False) -> SqlUnitOfWork:
        # A lone statement autocommits: no BEGIN, no COMMIT, one round trip.
        return SqlUnitOfWork(self, write and not alone, lone_write=write and alone)

    def reason(self) -> str | None:
        return None

    def ping(self) -> bool:
        """Whether the database answers and takes writes (not a standby)."""
        check = "SELECT pg_is_in_recovery()" if is_postgres(self.db) else "SELECT 0"
        try:
            with self(write=False):
                (in_recovery,) = self.db.execute_sql(check).fetchone()
        except StorageUnavailable:
            return False
        return not in_recovery

    def migrate(self, wait_seconds: float = 0.0) -> list[str]:
        # Imported here: peewee-migrate (~2 MB) is for `migrate`, not workers.
        from adapters.sql.migrate import apply_migrations

        return apply_migrations(self.db, MIGRATIONS_DIR, wait_seconds)

    def close(self) -> None:
        if isinstance(self.db, PooledDatabase):
            self.db.close_all()
        else:
            self.db.close()


FAILURE_KINDS = ("timeout", "connection", "readonly", "schema")


def _failure_kind(exc: BaseException | None) -> str:
    """The `kind` label of backend_errors_total for a failed database call."""
    code = _pgcode(exc)
    if code in _TIMED_OUT:
        return "timeout"
    if code in _READ_ONLY:
        return "readonly"
    if code in _NOT_MIGRATED:
        return "schema"
    return "connection"

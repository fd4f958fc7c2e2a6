"""Applying migrations safely when several processes start at once."""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import peewee as pw
from peewee_migrate import Router

from adapters.sql.database import is_postgres
from domain.errors import SetupRefused

log = logging.getLogger(__name__)


class _OneLinePerMigration(logging.Filter):
    """peewee-migrate says "Starting", "Migrate X" and "Done X": keep one line
    per migration (and "nothing to migrate") unless debugging."""

    def filter(self, record: logging.LogRecord) -> bool:
        chatter = record.msg in ("Starting migrations", "Done %s")
        return not chatter or log.isEnabledFor(logging.DEBUG)


_steps = logging.getLogger(f"{__name__}.steps")
_steps.addFilter(_OneLinePerMigration())

# Any constant works; it only has to be the same in every process.
_ADVISORY_LOCK_KEY = 0x656D706C6F796565  # "employee"
# Refusals that waiting will not cure, as libpq words them.
_REFUSALS = (
    "unsupported startup parameter",
    "authentication failed",
    "does not exist",
    "no pg_hba.conf entry",
    "not permitted",
    "SSL",
)


def apply_migrations(
    db: pw.Database, directory: Path, wait_seconds: float = 0.0
) -> list[str]:
    """Run every pending migration; returns the names applied (often none).
    Waits up to wait_seconds for a database that is still starting, and as
    long again for another migrator's lock; SetupRefused says what stopped it."""
    _connect_within(db, wait_seconds)
    try:
        if is_postgres(db):
            return _under_transaction_lock(db, directory, wait_seconds)
        with _file_lock(Path(db.database)):
            return list(Router(db, migrate_dir=directory, logger=_steps).run())
    finally:
        db.close()


def _connect_within(db: pw.Database, wait_seconds: float) -> None:
    """Containers start together: the database may answer a few seconds late.
    A refusal (a bad password, a startup parameter a pooler refuses) is said
    at once: waiting will not change it."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            db.connect(reuse_if_open=True)
            return
        except pw.OperationalError as exc:
            said = str(exc).strip()
            if any(refusal in said for refusal in _REFUSALS):
                raise SetupRefused(
                    f"the database refused the connection: {said}"
                ) from exc
            if time.monotonic() >= deadline:
                raise
            log.warning("the database does not answer yet (%s); retrying", said)
            time.sleep(1)  # a retry timer, bounded by the deadline


def _under_transaction_lock(
    db: pw.Database, directory: Path, wait_seconds: float
) -> list[str]:
    """Every pending migration in one transaction, under a transaction-scoped
    advisory lock: it holds through a transaction pooler (which lends a
    session's server connection to others between transactions) and ends with
    the transaction, so a migrator that dies leaves no lock behind. PostgreSQL's
    DDL is transactional: all of it applies, or none."""
    log.info("waiting for the migration lock")
    with _one_transaction(db):
        db.execute_sql(f"SET LOCAL lock_timeout = {max(1, int(wait_seconds * 1000))}")
        try:
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK_KEY,))
        except pw.OperationalError as exc:
            if getattr(getattr(exc, "orig", None), "pgcode", None) != "55P03":
                raise
            raise SetupRefused(_held_by(db, wait_seconds)) from exc
        db.execute_sql("SET LOCAL lock_timeout = 0")
        return list(Router(db, migrate_dir=directory, logger=_steps).run())


@contextmanager
def _one_transaction(db: pw.Database) -> Iterator[None]:
    """db.atomic(), except that a stop (SIGTERM's SystemExit) during the lock
    wait, which leaves the connection closed, stays a stop rather than the
    failed ROLLBACK after it."""
    try:
        with db.atomic():
            yield
    except pw.InterfaceError as exc:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, SystemExit):
            cause = cause.__context__
        if cause is not None:
            raise cause from None
        raise


def _held_by(db: pw.Database, wait_seconds: float) -> str:
    """Who holds the migration lock, and what to do about it."""
    db.rollback()  # the failed lock wait ended the transaction
    row = db.execute_sql(
        "SELECT a.pid, a.state, now() - a.state_change, a.application_name,"
        " left(a.query, 200) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
        " WHERE l.locktype = 'advisory' AND l.granted"
        " AND l.classid = %s AND l.objid = %s",
        (_ADVISORY_LOCK_KEY >> 32, _ADVISORY_LOCK_KEY & 0xFFFFFFFF),
    ).fetchone()
    if row is None:
        return f"the migration lock was held for {wait_seconds:g} s; run migrate again"
    pid, state, since, application, query = row
    return (
        f"the migration lock is held by PostgreSQL backend {pid} ({state} for "
        f"{since}, application {application or '-'!r}, last query {query!r}), "
        f"longer than MIGRATE_WAIT_SECONDS ({wait_seconds:g} s). If another "
        "migration is running, run migrate again when it ends; if not, the "
        "lock is left over (a session lock taken through a pooler, or a "
        f"transaction left open): end it with SELECT pg_terminate_backend({pid}) "
        "on a direct connection to the database, then run migrate again"
    )


@contextmanager
def _file_lock(database: Path) -> Iterator[None]:
    if str(database) == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield

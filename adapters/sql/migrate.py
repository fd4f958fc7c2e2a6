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


def apply_migrations(
    db: pw.Database, directory: Path, wait_seconds: float = 0.0
) -> list[str]:
    """Run every pending migration; returns the names applied (often none).
    Waits up to wait_seconds for a database that is still starting."""
    _connect_within(db, wait_seconds)
    with _exclusive(db):
        router = Router(db, migrate_dir=directory, logger=_steps)
        return list(router.run())


def _connect_within(db: pw.Database, wait_seconds: float) -> None:
    """Containers start together: the database may answer a few seconds late."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            db.connect(reuse_if_open=True)
            return
        except pw.OperationalError as exc:
            if time.monotonic() >= deadline:
                raise
            log.warning("the database does not answer yet (%s); retrying", exc)
            time.sleep(1)  # a retry timer, bounded by the deadline


@contextmanager
def _exclusive(db: pw.Database) -> Iterator[None]:
    """One migrator at a time; the others wait, then find nothing to do."""
    db.connect(reuse_if_open=True)
    try:
        if is_postgres(db):
            with _advisory_lock(db):
                yield
        else:
            with _file_lock(Path(db.database)):
                yield
    finally:
        db.close()


@contextmanager
def _advisory_lock(db: pw.Database) -> Iterator[None]:
    log.info("waiting for the migration lock")
    db.execute_sql("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK_KEY,))
    try:
        yield
    finally:
        db.execute_sql("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK_KEY,))


@contextmanager
def _file_lock(database: Path) -> Iterator[None]:
    if str(database) == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield

"""`employee-api migrate` started three times at once: one applies, two find nothing.

Each run is a real process, as when several containers start together.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import peewee as pw
import psycopg2
import pytest

from adapters.sql.database import open_database
from bootstrap import migrate
from settings import ServerSettings, Settings
from tests.support import services
from tests.support.paths import ROOT
from tests.support.polling import poll
from tests.support.processes import employee_api, start_employee_api
from tests.support.services import free_port, sqlite_url
from tests.support.tcp_proxy import TcpProxy

CONSOLE_SCRIPT = Path(sys.executable).parent / "employee-api"
MIGRATE = (
    [str(CONSOLE_SCRIPT), "migrate"]
    if CONSOLE_SCRIPT.exists()
    else [sys.executable, "-m", "bootstrap", "migrate"]
)
RUNS = 3
APPLIED = "applied 3 migration(s): 001_initial, 002_api_keys, 003_change_feed"
NOTHING = "applied 0 migration(s): none pending"


def migrate_at_once(
    database_url: str, cwd: Path
) -> list[subprocess.CompletedProcess[str]]:
    """Start every run before waiting for any, then collect them all."""
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    env.pop("POSTGRES_URL", None)
    runs = [
        subprocess.Popen(
            MIGRATE,
            cwd=cwd,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(RUNS)
    ]
    finished = []
    for run in runs:
        stdout, stderr = run.communicate(timeout=120)
        finished.append(
            subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr)
        )
    return finished


def assert_applied_once(
    runs: list[subprocess.CompletedProcess[str]], db: pw.Database
) -> None:
    for run in runs:
        assert run.returncode == 0, run.stderr
    outputs = sorted(run.stdout.strip() for run in runs)
    assert outputs == sorted([APPLIED] + [NOTHING] * (RUNS - 1))
    history = db.execute_sql("SELECT name FROM migratehistory").fetchall()
    assert [name for (name,) in history] == [
        "001_initial",
        "002_api_keys",
        "003_change_feed",
    ]
    assert {"employee", "manager", "migratehistory"} <= set(db.get_tables())
    indexes = {index.name for index in db.get_indexes("employee")}
    assert {"employee_email_lower_key", "employee_manager_idx"} <= indexes


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database of its own, dropped afterwards."""
    why = services.answers(services.POSTGRES_ADMIN_URL, 5432)
    if why:
        services.unavailable("PostgreSQL", why)
    name = services.new_database_name("emp_migrate")
    admin = open_database(services.POSTGRES_ADMIN_URL)
    admin.execute_sql(f'CREATE DATABASE "{name}"')
    try:
        yield services.with_database(services.POSTGRES_ADMIN_URL, name)
    finally:
        admin.execute_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close_all()


@pytest.mark.postgres
@pytest.mark.parametrize("through", ["direct", "pgbouncer"])
def test_three_simultaneous_migrations_apply_postgres_schema_once(
    fresh_postgres_url: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    through: str,
) -> None:
    """Directly, and through PgBouncer in transaction pooling mode, where a
    session lock would not hold (each migrator's lock is its transaction's)."""
    url = fresh_postgres_url
    if through == "pgbouncer":
        url = request.getfixturevalue("pgbouncer").url(fresh_postgres_url)
    runs = migrate_at_once(url, tmp_path)
    db = open_database(fresh_postgres_url)
    try:
        assert_applied_once(runs, db)
    finally:
        db.close_all()


def test_three_simultaneous_migrations_apply_sqlite_schema_once(tmp_path: Path) -> None:
    path = tmp_path / "fresh.sqlite3"
    runs = migrate_at_once(sqlite_url(path), ROOT)
    db = open_database(sqlite_url(path))
    try:
        assert_applied_once(runs, db)
    finally:
        db.close()


def test_migrating_an_up_to_date_database_again_changes_nothing(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "again.sqlite3")
    first = migrate_at_once(url, tmp_path)
    second = migrate_at_once(url, tmp_path)
    assert [run.stdout.strip() for run in second] == [NOTHING] * RUNS
    db = open_database(url)
    try:
        assert_applied_once(first, db)
    finally:
        db.close()


def migrate_logs(tmp_path: Path, level: str) -> list[str]:
    env = {
        "DATABASE_URL": sqlite_url(tmp_path / f"{level}.sqlite3"),
        "LOG_LEVEL": level,
        "LOG_FORMAT": "json",
    }
    done = employee_api("migrate", env=env, check=True)
    return [json.loads(line)["message"] for line in done.stderr.splitlines()]


def test_migrations_log_one_line_each_and_their_sql_only_when_debugging(
    tmp_path: Path,
) -> None:
    assert migrate_logs(tmp_path, "info") == [
        'Migrate "001_initial"',
        'Migrate "002_api_keys"',
        'Migrate "003_change_feed"',
    ]
    debugging = "\n".join(migrate_logs(tmp_path, "debug"))
    assert "CREATE TABLE" in debugging and "Starting migrations" in debugging


def sigterm_while(log: Path, waiting_for: str, **env: str) -> float:
    """Starts `employee-api migrate`, sends SIGTERM once its log says it is
    waiting, and returns how long it took to exit 0."""
    with log.open("wb") as out:
        waiting = start_employee_api(
            "migrate", env={"LOG_LEVEL": "info", **env}, output=out
        )
    poll(
        lambda: waiting_for in log.read_text(),
        within=30,
        what=f"the migrator to log {waiting_for!r}",
    )
    waiting.send_signal(signal.SIGTERM)
    started = time.monotonic()
    assert waiting.wait(timeout=5) == 0
    return time.monotonic() - started


@pytest.mark.postgres
def test_sigterm_while_waiting_for_the_migration_lock_exits_0_at_once(
    postgres_url: str, tmp_path: Path
) -> None:
    """A container stopped while another replica migrates must not wait for
    the engine's SIGKILL (as PID 1 a process has no default SIGTERM action)."""
    from adapters.sql.migrate import _ADVISORY_LOCK_KEY

    holder = psycopg2.connect(postgres_url)
    holder.autocommit = True
    holder.cursor().execute("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK_KEY,))
    try:
        took = sigterm_while(
            tmp_path / "migrate.log",
            "waiting for the migration lock",
            DATABASE_URL=postgres_url,
        )
        assert took < 2
    finally:
        holder.close()


def test_sigterm_while_waiting_for_the_database_exits_0_at_once(
    tmp_path: Path,
) -> None:
    """The same while the database does not answer yet (nothing listens)."""
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    took = sigterm_while(
        tmp_path / "migrate.log",
        "does not answer yet",
        DATABASE_URL=url,
        MIGRATE_WAIT_SECONDS="60",
    )
    assert took < 2


@pytest.mark.postgres
def test_migrate_waits_for_a_database_that_answers_late(
    postgres_url: str, proxy: TcpProxy, caplog: pytest.LogCaptureFixture
) -> None:
    """Containers start together: migrate retries until the database answers,
    within MIGRATE_WAIT_SECONDS, instead of failing the whole stack."""
    proxy.cut()
    late = urlsplit(postgres_url)._replace(netloc=f"postgres@127.0.0.1:{proxy.port}")
    settings = dataclasses.replace(
        Settings(database_url=late.geturl()),
        server=ServerSettings(migrate_wait_seconds=20),
    )
    results: list[list[str]] = []
    migrating = threading.Thread(target=lambda: results.append(migrate(settings)))
    with caplog.at_level(logging.WARNING, logger="adapters.sql.migrate"):
        migrating.start()
        poll(
            lambda: "does not answer yet" in caplog.text,
            within=10,
            what="migrate to find the database absent",
        )
        proxy.start()
        migrating.join(timeout=30)
    assert results == [[]]  # answered, and found the schema up to date


@pytest.mark.postgres
def test_without_a_wait_an_absent_database_fails_migrate_at_once(
    postgres_url: str, proxy: TcpProxy
) -> None:
    proxy.cut()
    late = urlsplit(postgres_url)._replace(netloc=f"postgres@127.0.0.1:{proxy.port}")
    settings = dataclasses.replace(
        Settings(database_url=late.geturl()),
        server=ServerSettings(migrate_wait_seconds=0),
    )
    started = time.monotonic()
    with pytest.raises(pw.OperationalError):
        migrate(settings)
    assert time.monotonic() - started < 5

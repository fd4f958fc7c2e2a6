"""Replicas that migrate on start (the image's default), on an empty database
in the stack's PostgreSQL: three at once apply the migrations once, and a stop
while one waits for another's migration lock exits 0 at once."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from migrations import MIGRATIONS_DIR
from tests.stack.support import (
    DOCKER,
    IMAGE,
    PROJECT,
    SECRETS,
    Stack,
    docker,
    health,
    logs_of,
    wait_until,
)

MIGRATIONS = len(list(MIGRATIONS_DIR.glob("[0-9]*.py")))
MIGRATION_LOCK = 0x656D706C6F796565  # adapters/sql/migrate.py's advisory lock key


def psql(stack: Stack, database: str, sql: str) -> str:
    return docker(
        "exec", stack.container("postgres"), "psql", "-U", "employees",
        "-d", database, "-tAc", sql,
    ).strip()  # fmt: skip


@pytest.fixture
def replicas(stack: Stack) -> Iterator[list[str]]:
    started: list[str] = []
    yield started
    for container in started:
        docker("rm", "--force", container, check=False)


def replica(stack: Stack, database: str) -> list[str]:
    url = f"postgresql://employees:{SECRETS['POSTGRES_PASSWORD']}@postgres:5432/{database}"
    return [
        "run", "--detach", "--network", f"{PROJECT}_default",
        "--health-interval", "1s", "--stop-timeout", "10",
        "-e", f"DATABASE_URL={url}", "-e", f"SECRET_KEY={SECRETS['SECRET_KEY']}",
        IMAGE,
    ]  # fmt: skip


def test_three_replicas_at_once_migrate_once(stack: Stack, replicas: list[str]) -> None:
    psql(stack, "employees", "CREATE DATABASE race")
    ids: list[str] = []

    def start() -> None:
        ids.append(docker(*replica(stack, "race")).strip())

    starting = [threading.Thread(target=start) for _ in range(3)]
    for thread in starting:
        thread.start()
    for thread in starting:
        thread.join()
    replicas.extend(ids)
    for container in ids:
        wait_until(lambda c=container: health(c) == "healthy", f"{container} healthy")
    logs = [logs_of(c) for c in ids]
    applied = [log for log in logs if f"applied {MIGRATIONS} migration(s)" in log]
    idle = [log for log in logs if "applied 0 migration(s): none pending" in log]
    assert (len(applied), len(idle)) == (1, 2), logs
    assert psql(stack, "race", "SELECT count(*) FROM migratehistory") == str(MIGRATIONS)


def test_a_stop_while_waiting_for_the_migration_lock_exits_0_at_once(
    stack: Stack, replicas: list[str]
) -> None:
    psql(stack, "employees", "CREATE DATABASE locked")
    holder = subprocess.Popen(
        [
            DOCKER, "exec", stack.container("postgres"), "psql", "-U", "employees",
            "-d", "locked", "-c",
            f"SELECT pg_advisory_lock({MIGRATION_LOCK}), pg_sleep(120)",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
        wait_until(
            lambda: psql(stack, "locked", held) == "1",
            "another session holds the migration lock",
        )
        waiting = docker(*replica(stack, "locked")).strip()
        replicas.append(waiting)
        wait_until(
            lambda: "waiting for the migration lock" in logs_of(waiting),
            "the replica waits for the lock",
        )
        began = time.monotonic()
        docker("stop", waiting)
        took = time.monotonic() - began
        print(f"\nstopped while waiting for the migration lock in {took:.2f} s")
        assert docker("inspect", "-f", "{{.State.ExitCode}}", waiting).strip() == "0"
        assert took < 2
        assert psql(stack, "locked", "SELECT to_regclass('migratehistory')") == ""
    finally:
        psql(
            stack, "employees",
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = 'locked' AND pid <> pg_backend_pid()",
        )  # fmt: skip
        holder.wait(timeout=30)

"""What the fault suite owns: a PostgreSQL it may stop and start, behind a TCP
proxy it may cut and freeze, a Redis it may kill, and two gunicorn instances
with the production configuration (2 workers x 8 threads) in front of them."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from adapters.sql.database import open_database
from adapters.sql.migrate import apply_migrations
from migrations import MIGRATIONS_DIR
from tests.distributed.support import Instance
from tests.support.pgbouncer import PgBouncer
from tests.support.polling import poll
from tests.support.services import RedisServer, free_port, unavailable
from tests.support.tcp_proxy import TcpProxy

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class PrivatePostgres:
    """A PostgreSQL cluster of the suite's own, on a free loopback port."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            unavailable("PostgreSQL's server binaries", f"{PG_BIN} missing")
        self.port = free_port()
        # Owned by the postgres user, which the server must run as.
        self.directory = Path(tempfile.mkdtemp(prefix="fault-pg-"))
        shutil.chown(self.directory, "postgres", "postgres")
        self._as_postgres(
            "initdb", "-D", str(self.directory / "data"), "-A", "trust",
            "-U", "postgres", "--no-sync",
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, tool: str, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / tool), *args],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c max_connections=200"
        )
        self._as_postgres(
            "pg_ctl", "-D", str(self.directory / "data"), "-o", options,
            "-l", str(self.directory / "server.log"), "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._as_postgres(
            "pg_ctl", "-D", str(self.directory / "data"), "-m", "fast", "-w", "stop"
        )

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()  # unless already stopped
        shutil.rmtree(self.directory, ignore_errors=True)

    def query(self, sql: str) -> list[tuple[object, ...]]:
        with psycopg2.connect(self.url, connect_timeout=5) as connection:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())


@dataclass
class World:
    postgres: PrivatePostgres
    proxy: TcpProxy  # between the instances and PostgreSQL
    redis: RedisServer
    instances: list[Instance]

    @property
    def ports(self) -> list[int]:
        return [instance.port for instance in self.instances]


PRODUCTION = {
    "WEB_CONCURRENCY": "2",
    "THREADS": "8",
    "KEEPALIVE": "5",
    "GRACEFUL_TIMEOUT": "10",
    "RATE_LIMIT_EMPLOYEES": "100000000/minute",
    "RATE_LIMIT_MANAGERS": "100000000/minute",
    "DB_STATEMENT_TIMEOUT_MS": "1000",  # a frozen database costs 3 s
    "LOG_LEVEL": os.environ.get("FAULT_LOG_LEVEL", "warning"),
}


@contextmanager
def world(
    directory: Path, *, pooled: bool = False, server: str = "gunicorn", **env: str
) -> Iterator[World]:
    """Everything started, migrated and torn down again, passed or not.
    pooled: the instances reach the database through PgBouncer in
    transaction pooling mode (before the proxy). server: gunicorn or granian."""
    postgres = PrivatePostgres()
    redis_server = RedisServer(directory)
    proxy: TcpProxy | None = None
    bouncer: PgBouncer | None = None
    instances: list[Instance] = []
    try:
        postgres.start()
        db = open_database(postgres.url)
        apply_migrations(db, MIGRATIONS_DIR)
        db.close_all()
        redis_server.start()
        proxy = TcpProxy("127.0.0.1", postgres.port)
        proxy.start()
        database = f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres"
        if pooled:
            bouncer = PgBouncer(database)
            bouncer.start()
            database = bouncer.url(database)
        settings = {
            **PRODUCTION,
            "DATABASE_URL": database,
            "REDIS_URL": redis_server.url,
            **env,
        }
        for n in (1, 2):
            log = directory / f"instance-{n}.log"
            instance = Instance(settings, log, server=server)
            instances.append(instance.start())
        yield World(postgres, proxy, redis_server, instances)
    finally:
        for instance in instances:
            instance.stop()
        if bouncer is not None:
            bouncer.close()
        if proxy is not None:
            proxy.cut()
        redis_server.close()
        postgres.close()


def worker_pids(instance: Instance) -> list[int]:
    """The workers of an instance: its main process's children."""
    master = instance.pid
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return sorted(int(pid) for pid in children)


def resident_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def kill_a_worker(instance: Instance) -> int:
    """SIGKILLs one worker; returns its pid once the server has replaced it."""
    before = worker_pids(instance)
    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    poll(
        lambda: (
            victim not in worker_pids(instance)
            and len(worker_pids(instance)) == len(before)
        ),
        within=30,
        what="gunicorn to replace the killed worker",
    )
    return victim

"""Reaching the real PostgreSQL and Redis that some tests need, and servers
of a test's own.

A test that needs a service skips with the reason when it does not answer,
unless REQUIRE_SERVICES=1 (as in CI), which turns that skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import peewee as pw
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters.sql.database import open_database
from tests.support.polling import poll

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


def unavailable(what: str, why: object) -> None:
    message = f"{what} is not answering ({why}); set it up or see tests/README.md"
    if required():
        pytest.fail(f"REQUIRE_SERVICES=1 but {message}")
    pytest.skip(message)


def answers(url: str, default_port: int) -> str | None:
    """None when a TCP connection to the URL's host and port succeeds, else why."""
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1
        ):
            return None
    except OSError as exc:
        return str(exc)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path=f"/{name}").geturl()


def sqlite_url(path: Path) -> str:
    """sqlite:////absolute/path: a SQLite database at path."""
    return f"sqlite:///{path}"


def new_database_name(prefix: str = "emp_test") -> str:
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def empty_tables(db: pw.Database) -> None:
    """Empty the tables and the feed's tasks; ids start at 1 again."""
    db.connect(reuse_if_open=True)
    db.execute_sql("TRUNCATE employee, manager, api_key, change RESTART IDENTITY")
    db.execute_sql("UPDATE feed_task SET holder = NULL, until = NULL, position = NULL")


def empty_database(url: str) -> None:
    """Empty the tables of the PostgreSQL database at url; ids start at 1 again."""
    db: pw.Database = open_database(url)
    empty_tables(db)
    db.close_all()


def swept_to_the_end(url: str, within: float) -> None:
    """Wait until the change feed's sweep (entrypoints/http/feed_keeper.py)
    has passed every change written so far to the PostgreSQL database at
    url: from then on it invalidates none of them again."""
    db: pw.Database = open_database(url)
    last = "SELECT position, id FROM change ORDER BY position DESC, id DESC LIMIT 1"
    mark = "SELECT position, change_id FROM feed_task WHERE name = 'sweep'"

    def passed() -> bool:
        newest = db.execute_sql(last).fetchone()
        swept = db.execute_sql(mark).fetchone()
        if newest is None:
            return True
        return swept is not None and swept[0] is not None and swept >= newest

    try:
        poll(passed, within=within, what="the feed's sweep to pass the last change")
    finally:
        db.close_all()


# Redis


def shared_redis() -> redis.Redis:
    """The test logical DB of the shared Redis (tests.REDIS_URL), flushed."""
    why = answers(REDIS_URL, 6379)
    if why:
        unavailable("Redis", why)
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    return client


class RedisServer:
    """A redis-server of this test's own, which it may stop and start again.

    It never saves on its own; stop(save=True) writes a snapshot that the next
    start() loads, as a Redis with persistence comes back with its data.
    """

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server", "not on PATH")
        self._binary = str(binary)
        self._directory = directory
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A client that does not retry, so a refused connection is answered at once."""
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_timeout=2,
            retry=Retry(NoBackoff(), 0),
        )

    def start(self) -> None:
        assert self._process is None, "already running"
        log = (self._directory / "redis.log").open("ab")
        self._process = subprocess.Popen(
            [
                self._binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self._directory),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        client = self.client()
        poll(lambda: _pings(client), within=10, what="redis-server to answer")
        client.close()

    def stop(self, *, save: bool = False) -> None:
        """Shut the server down; with save=True its data survives a restart."""
        assert self._process is not None, "not running"
        with self.client() as client:
            client.shutdown(save=save, nosave=not save)
        self._process.wait(timeout=10)
        self._process = None

    def close(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False

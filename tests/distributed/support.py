"""Helpers for the Redis cache and rate-limiting tests: clocks, servers, HTTP.

Everything here runs real components: a redis-server of the test's own on a
free loopback port, gunicorn processes serving the app, plain HTTP over
loopback. Waits are bounded polling loops, never fixed sleeps.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import peewee as pw
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import bootstrap
from adapters.sql.database import open_database
from domain.ports import HealthCheck, UnitOfWorkFactory
from entrypoints.app import Edges, Health, HttpSettings, WsgiApp
from tests import services

PROJECT_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


class FakeClock:
    """A monotonic clock (float seconds) that moves only when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def poll(
    probe: Callable[[], T | None],
    *,
    within: float,
    what: str,
    every: float = 0.02,
) -> T:
    """probe()'s first truthy answer, asked repeatedly for at most within seconds."""
    deadline = time.monotonic() + within
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {within} s waiting for {what}")
        time.sleep(every)


def wait_for(seconds: float) -> None:
    """Let real time pass (for a rate-limit window to slide), in a bounded loop."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        time.sleep(min(0.01, max(0.0, until - time.monotonic())))


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def empty_database(url: str) -> None:
    """Empty the tables of the PostgreSQL database at url; ids start at 1 again."""
    db: pw.Database = open_database(url)
    db.connect(reuse_if_open=True)
    db.execute_sql("TRUNCATE employee, manager RESTART IDENTITY")
    db.close_all()


# Redis


def shared_redis() -> redis.Redis:
    """The test logical DB of the shared Redis (tests.services.REDIS_URL), flushed."""
    why = services.answers(services.REDIS_URL, 6379)
    if why:
        services.unavailable("Redis", why)
    client = redis.Redis.from_url(services.REDIS_URL)
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
            services.unavailable("redis-server", "not on PATH")
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


# HTTP


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # names lower-cased
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Http:
    """One keep-alive connection to one server; give each thread its own."""

    def __init__(self, port: int, timeout: float = 15) -> None:
        self.port = port
        self._connection = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=timeout
        )

    def connect(self) -> None:
        self._connection.connect()

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        sent = dict(headers or {})
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        self._connection.request(method, path, body=data, headers=sent)
        response = self._connection.getresponse()
        return Reply(
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            response.read(),
        )

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Reply:
        return self.request("GET", path, headers=headers)

    def close(self) -> None:
        self._connection.close()


def ok(reply: Reply, *statuses: int) -> Reply:
    """The reply, after checking that its status is one of statuses (2xx if none)."""
    expected = statuses or tuple(range(200, 300))
    assert reply.status in expected, (reply.status, reply.body[:300])
    return reply


def http_status(port: int, path: str) -> int | None:
    """Status of GET path on a fresh connection, or None while nothing answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


# gunicorn

# Configuration an outer environment may set that would leak into an instance.
_APP_VARIABLES = (
    "DATABASE_URL",
    "POSTGRES_URL",
    "REDIS_URL",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_PASSWORD",
    "RATE_LIMIT_EMPLOYEES",
    "RATE_LIMIT_MANAGERS",
    "RATE_LIMIT_FAIL_CLOSED",
    "TRUSTED_PROXIES",
    "CACHE_TTL_SECONDS",
    "WEB_CONCURRENCY",
)


class Instance:
    """The app served by gunicorn (bootstrap:get_app()) on a free loopback port."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self._env = {k: v for k, v in os.environ.items() if k not in _APP_VARIABLES}
        self._env.update(
            BIND=f"127.0.0.1:{self.port}",
            WEB_CONCURRENCY="1",
            THREADS="8",
            KEEPALIVE="120",  # test connections stay open between requests
            GRACEFUL_TIMEOUT="5",
            ACCESS_LOG="",
            LOG_LEVEL="warning",
        )
        self._env.update(env)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, ready_path: str = "/health/ready") -> Instance:
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "entrypoints/gunicorn_conf.py",
                "--no-control-socket",
                "bootstrap:get_app()",
            ],
            cwd=PROJECT_ROOT,
            env=self._env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        poll(self._answers(ready_path), within=30, what=f"gunicorn on {self.port}")
        return self

    def _answers(self, ready_path: str) -> Callable[[], bool]:
        def probe() -> bool:
            assert self._process is not None
            if self._process.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{self.log()}")
            return http_status(self.port, ready_path) == 200

        return probe

    def http(self) -> Http:
        return Http(self.port)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5)
        self._process = None


# In-process apps


def compose_app(
    uow: UnitOfWorkFactory,
    edges: Edges,
    http_settings: HttpSettings,
    redis_health: HealthCheck | None = None,
) -> WsgiApp:
    """The app built by bootstrap over edges (cache, limiter, stats) the test holds."""
    required: dict[str, HealthCheck] = {"database": uow}  # type: ignore[dict-item]
    optional: dict[str, HealthCheck] = {}
    if redis_health is not None:
        if http_settings.rate_limits.fail_closed:
            required["redis"] = redis_health
        else:
            optional["redis"] = redis_health
    return bootstrap.bootstrap(
        settings=bootstrap.Settings(http=http_settings),
        uow=uow,
        cache=edges.cache,
        limiter=edges.limiter,
        stats=edges.stats,
        health=Health(required=required, optional=optional),
    )

"""Helpers for tests across instances: server instances and apps.

Everything here runs real components: gunicorn or granian serving the app on
free loopback ports, plain HTTP over loopback. Waits are bounded polling
loops (tests.support.services.poll), never fixed sleeps.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import bootstrap
from domain.ports import Cache, HealthCheck, RateLimiter, Storage
from entrypoints.http.app import Readiness, WsgiApp
from entrypoints.http.metrics import Metrics
from settings import AuthSettings, HttpSettings, Settings, variable_names
from tests.support import services
from tests.support.http_clients import Http, http_status
from tests.support.paths import ROOT
from tests.support.polling import poll
from tests.support.processes import employee_api
from tests.support.services import empty_database, free_port, shared_redis

# gunicorn


class Instance:
    """The app served by gunicorn (bootstrap:get_app()), or by granian, on a
    free loopback port."""

    def __init__(
        self,
        env: Mapping[str, str],
        log_path: Path,
        open_files: int | None = None,
        unread_output: bool = False,
        server: str = "gunicorn",
    ) -> None:
        """open_files: the server's open-file limit, soft and hard (as with
        `ulimit -n`), when not this process's. unread_output: its standard
        output and error go to a pipe nobody reads (a stalled log reader).
        server: gunicorn or granian (SERVER)."""
        self.server = server
        self._unread_output = unread_output
        self.port = free_port()
        self._limit = [] if open_files is None else [f"--nofile={open_files}"]
        self.log_path = log_path
        # Nothing an outer environment configures leaks into an instance.
        ours = set(variable_names())
        self._env = {k: v for k, v in os.environ.items() if k not in ours}
        self._env.update(
            BIND=f"127.0.0.1:{self.port}",
            WEB_CONCURRENCY="1",
            THREADS="8",
            KEEPALIVE="120",  # test connections stay open between requests
            GRACEFUL_TIMEOUT="5",
            ACCESS_LOG="",
            LOG_LEVEL="warning",
            AUTH_DISABLED="1",
            SERVER=server,
        )
        self._env.update(env)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, ready_path: str = "/health/ready") -> Instance:
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [
                *STOP_WITH_PARENT,
                *(["prlimit", *self._limit, "--"] if self._limit else []),
                *SERVE[self.server],
            ],
            cwd=ROOT,
            env=self._env,
            stdout=subprocess.PIPE if self._unread_output else log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        poll(self._answers(ready_path), within=30, what=f"{self.server} on {self.port}")
        return self

    def _answers(self, ready_path: str) -> Callable[[], bool]:
        def probe() -> bool:
            assert self._process is not None
            if self._process.poll() is not None:
                raise AssertionError(f"{self.server} exited:\n{self.log()}")
            return http_status(self.port, ready_path) == 200

        return probe

    def http(self) -> Http:
        return Http(self.port)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    @property
    def pid(self) -> int:
        """The server's main process (gunicorn's master, granian's)."""
        assert self._process is not None
        return self._process.pid

    def send(self, signum: int) -> None:
        assert self._process is not None
        self._process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        """The server's exit status, once it has exited."""
        assert self._process is not None
        return self._process.wait(timeout=timeout)

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


# How each server is started, as `employee-api serve` starts it.
SERVE = {
    "gunicorn": [
        sys.executable, "-m", "gunicorn",
        "--config", "entrypoints/server/gunicorn_conf.py",
        "--no-control-socket", "bootstrap:get_app()",
    ],
    "granian": [sys.executable, "-m", "entrypoints.server.granian_serve"],
}  # fmt: skip
SERVERS = tuple(SERVE)


# util-linux's setpriv execs gunicorn with SIGTERM as its parent-death signal,
# so a killed test run leaves no gunicorn behind.
STOP_WITH_PARENT = ["setpriv", "--pdeathsig", "TERM", "--"]


# In-process apps


@dataclass(frozen=True, slots=True)
class HeldBackends:
    """The edge adapters a test holds on to, to look at them afterwards."""

    limiter: RateLimiter
    cache: Cache | None
    stats: Metrics


def compose_app(
    storage: Storage,
    backends: HeldBackends,
    http_settings: HttpSettings,
    redis_health: HealthCheck | None = None,
) -> WsgiApp:
    """The app built by bootstrap over backends the test holds (cache, limiter)."""
    required: dict[str, HealthCheck] = {"database": storage}
    optional: dict[str, HealthCheck] = {}
    if redis_health is not None:
        if http_settings.rate_limits.fail_closed:
            required["redis"] = redis_health
        else:
            optional["redis"] = redis_health
    return bootstrap.bootstrap(
        settings=Settings(http=http_settings, auth=AuthSettings(disabled=True)),
        storage=storage,
        cache=backends.cache,
        limiter=backends.limiter,
        metrics=backends.stats,
        readiness=Readiness(required, optional),
    )


def serve_pair(
    postgres_url: str, directory: Path, env: Mapping[str, str]
) -> Iterator[tuple[Instance, Instance]]:
    """Two instances on one emptied PostgreSQL database and the shared Redis."""
    shared_redis().close()  # skips (or fails) here when Redis does not answer
    empty_database(postgres_url)
    settings = {"DATABASE_URL": postgres_url, "REDIS_URL": services.REDIS_URL, **env}
    pair = (
        Instance(settings, directory / "a.log"),
        Instance(settings, directory / "b.log"),
    )
    try:
        for instance in pair:
            instance.start()
        yield pair
    finally:
        for instance in pair:
            instance.stop()


def keys_cli(
    database_url: str, secret: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """`employee-api keys ...` as an operator runs it, configured as the
    instances of serve_pair are (a revocation is announced over their Redis);
    a failure fails the test."""
    env = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": secret,
        "REDIS_URL": services.REDIS_URL,
    }
    done = employee_api("keys", *args, env=env)
    assert done.returncode == 0, done.stderr
    return done


def new_token(database_url: str, secret: str, name: str, scopes: str) -> str:
    """A new API key's token, made with the command line."""
    done = keys_cli(database_url, secret, "create", "--name", name, "--scopes", scopes)
    return done.stdout.strip()

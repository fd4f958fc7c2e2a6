"""The server's settings: gunicorn's and the command line's part."""

from __future__ import annotations

from dataclasses import dataclass

from settings.values import LOG_LEVELS, Environment, SettingsError, bind_address

SERVERS = ("gunicorn", "granian")


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """gunicorn's and the command line's part."""

    server: str = "gunicorn"  # or "granian" (entrypoints/server/granian_serve.py)
    bind: str = "127.0.0.1:8000"
    workers: int = 1
    threads: int = 8
    worker_timeout: int = 30
    graceful_timeout: int = 20
    drain_seconds: int = 0  # readiness 503 this long before a graceful stop
    keepalive: int = 5
    # A request's headers, then its body, must arrive within these seconds
    # (entrypoints.server.worker buffers them off the thread pool).
    header_timeout: float = 5.0
    body_timeout: float = 10.0
    # An answer must be taken by the client within this many seconds
    # (entrypoints/server/write_behind.py sends it as the client reads).
    send_timeout: float = 10.0
    access_log: str | None = None  # gunicorn's own; "-": standard output
    log_level: str = "info"
    log_format: str = "text"  # or "json": one object a line
    metrics_dir: str | None = None  # set for gunicorn's workers: multiprocess mode
    control_socket: bool = False
    migrate_on_start: bool = True
    migrate_wait_seconds: int = 30  # for a database that is still starting


def read_server(env: Environment, *, shared_state: bool) -> ServerSettings:
    workers = env.integer("WEB_CONCURRENCY", 2 if shared_state else 1, 1, 256)
    if workers > 1 and not shared_state:
        # Without Redis the cache and the limiter live in each process: reads
        # could go stale and limits would multiply.
        raise SettingsError(
            f"WEB_CONCURRENCY={workers} needs REDIS_URL (or REDIS_HOST): without "
            "Redis run one worker, and use THREADS to scale"
        )
    access_log = env.text("ACCESS_LOG", "")
    return ServerSettings(
        server=env.choice("SERVER", "gunicorn", SERVERS),
        bind=env.parsed("BIND", "127.0.0.1:8000", bind_address),
        workers=workers,
        threads=env.integer("THREADS", 8, 1, 1024),
        worker_timeout=env.integer("WORKER_TIMEOUT", 30, 1, 3600),
        graceful_timeout=env.integer("GRACEFUL_TIMEOUT", 20, 0, 3600),
        drain_seconds=env.integer("DRAIN_SECONDS", 0, 0, 300),
        keepalive=env.integer("KEEPALIVE", 5, 0, 3600),
        header_timeout=env.integer("HEADER_TIMEOUT", 5, 1, 3600),
        body_timeout=env.integer("BODY_TIMEOUT", 10, 1, 3600),
        send_timeout=env.integer("SEND_TIMEOUT", 10, 1, 3600),
        access_log=access_log or None,
        log_level=env.choice("LOG_LEVEL", "info", LOG_LEVELS),
        log_format=env.choice("LOG_FORMAT", "text", ("text", "json")),
        metrics_dir=env.text("PROMETHEUS_MULTIPROC_DIR", "") or None,
        control_socket=env.flag("GUNICORN_CONTROL_SOCKET", False),
        migrate_on_start=env.flag("MIGRATE_ON_START", True),
        migrate_wait_seconds=env.integer("MIGRATE_WAIT_SECONDS", 30, 0, 600),
    )

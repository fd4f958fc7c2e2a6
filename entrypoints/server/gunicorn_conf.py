"""gunicorn's configuration, from the same checked settings as the app."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path
from typing import Any

from entrypoints.server.heap import few_arenas
from entrypoints.server.lifecycle import begin_drain_everywhere
from entrypoints.server.log_config import logging_config
from entrypoints.server.metrics_dir import prepare_metrics_dir
from entrypoints.server.open_files import open_files
from settings import Settings, SettingsError

try:
    _settings = Settings.from_env()
    _settings.auth.check()
    _server = _settings.server
except SettingsError as exc:
    raise SystemExit(f"employee-api: {exc}") from None

bind = _server.bind
workers = _server.workers
threads = _server.threads
# In the master, before any worker forks: the workers inherit the limits.
_open_files = open_files(_settings)
few_arenas()
worker_connections = _open_files.worker_connections
# gthread, reading each request whole in its event loop before a thread sees
# it, so slow clients cannot hold the threads (entrypoints/server/worker.py).
worker_class = "entrypoints.server.worker.BufferingWorker"
# With several workers, each listens on a socket of its own in one
# SO_REUSEPORT group (gunicorn does this when reuse_port is on), and the
# kernel spreads new connections over them. On one shared socket the worker
# that wakes first accepts: a burst of kept-alive connections (a load
# balancer's pool, a benchmark's) could all land on one worker, served on one
# core while the others idle, at a quarter of the throughput (bench/RESULTS.md).
# One worker keeps the master's socket: it queues connections while a
# replacement worker starts, where a socket of the worker's own would close.
reuse_port = _server.workers > 1
timeout = _server.worker_timeout
graceful_timeout = _server.graceful_timeout
keepalive = _server.keepalive
# Bound request line and headers: the server refuses oversized ones itself.
limit_request_line = 8190
limit_request_fields = 100
# The app logs one line per request itself; gunicorn's access log is optional.
accesslog = _server.access_log
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s "%(a)s"'
errorlog = "-"
loglevel = _server.log_level
logconfig_dict = logging_config(
    _server.log_level, _server.log_format, access_log=_server.access_log
)
# The control socket lands under $HOME; containers and CI do not want it.
control_socket_disable = not _server.control_socket


_made_metrics_dir: list[Path] = []


def on_starting(server: Any) -> None:
    """A fresh, empty metrics directory for this start, before any worker forks.
    (Nothing in this process may import prometheus_client before this runs:
    the workers it forks would inherit its single-process mode.)"""
    made = prepare_metrics_dir(_server.metrics_dir)
    if made is not None:
        _made_metrics_dir.append(made)


def when_ready(server: Any) -> None:
    """Says what the open-file limit allows. With DRAIN_SECONDS, the first
    SIGTERM drains before the graceful stop:
    readiness answers 503 while the replica still serves, so a load balancer
    that polls it stops sending first. An alarm then delivers the stop; a
    second SIGTERM stops at once (gracefully), SIGINT and SIGQUIT quickly."""
    server.log.info(
        "open files: %d (was %d); each worker holds up to %d client "
        "connections and refuses more with 503, keeping %d descriptors for "
        "the database, Redis and its own files",
        _open_files.soft_limit, _open_files.was,
        _open_files.worker_connections, _open_files.headroom,
    )  # fmt: skip
    if reuse_port:  # gunicorn's own "Listening at" names no address then
        server.log.info(
            "each of the %d workers listens on http://%s itself (SO_REUSEPORT)",
            workers, bind,
        )  # fmt: skip
    if not _server.drain_seconds:
        return
    graceful_stop = server.handle_term

    def drain_then_stop() -> None:
        if _draining:
            graceful_stop()  # raises StopIteration: gunicorn's graceful stop
            return
        _draining.append(True)
        begin_drain_everywhere()
        server.log.info(
            "draining: readiness answers 503 for %s s, then a graceful stop",
            _server.drain_seconds,
        )
        # gunicorn's own signal queue, so the stop runs in its main loop.
        signal.signal(signal.SIGALRM, lambda *_: server.signal(signal.SIGTERM, None))
        signal.alarm(_server.drain_seconds)

    server.handle_term = drain_then_stop


_draining: list[bool] = []


def child_exit(server: Any, worker: Any) -> None:
    """A dead worker's gauges stop counting; its counters stay in the totals."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    for directory in _made_metrics_dir:
        shutil.rmtree(directory, ignore_errors=True)

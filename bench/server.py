"""Starting and stopping an instance of the app for benchmarks, under gunicorn
or granian."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(env: Mapping[str, str], workers: int = 1) -> Iterator[int]:
    """Serve the app on a free loopback port; yields the port once it is live."""
    with serve("bootstrap:get_app()", {**env, "WEB_CONCURRENCY": str(workers)}) as (
        port,
        _,
    ):
        yield port


# The same apps as granian takes them: factories (rsgi_bridge.served_by).
GRANIAN_TARGETS = {
    "bootstrap:get_app()": "bootstrap:get_app",
    "bench.ceiling:app": "bench.ceiling:served",
    "bench.floor:app": "bench.floor:served",
}


def command(app: str, port: int, server: str) -> list[str]:
    """The command serving app on port with the service's configuration."""
    if server == "granian":
        granian = "entrypoints.server.granian_serve"
        return [sys.executable, "-m", granian, GRANIAN_TARGETS[app]]
    return [
        sys.executable, "-m", "gunicorn",
        "--config", "python:entrypoints.server.gunicorn_conf",
        "--bind", f"127.0.0.1:{port}", "--no-control-socket", app,
    ]  # fmt: skip


@contextmanager
def serve(
    app: str, env: Mapping[str, str], server: str = "gunicorn"
) -> Iterator[tuple[int, int]]:
    """app under the service's configuration of server (gunicorn or granian)
    on a free loopback port; yields (port, master pid) once /health/live
    answers."""
    port = free_port()
    full_env = {**os.environ, "ACCESS_LOG": "", **env}
    full_env.update(SERVER=server, BIND=f"127.0.0.1:{port}")
    # A file, not a pipe: the app logs a line per request, and a pipe nobody
    # reads fills up and stalls the worker mid-request.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command(app, port, server),
            cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        try:
            _wait_until_live(port, process, log)
            yield port, process.pid
        finally:
            process.terminate()
            process.wait(timeout=30)


def _wait_until_live(
    port: int, process: subprocess.Popen[bytes], log: IO[bytes]
) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the server exited: {log.read().decode()[-3000:]}")
        try:
            status, _ = request(port, "GET", "/health/live")
            if status == 200:
                return
        except OSError:
            time.sleep(0.1)  # polling for the port to open, bounded by the deadline
    raise RuntimeError("the server did not come up in 30 s")


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if own:
        conn.close()
    return response.status, data

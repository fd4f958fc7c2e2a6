"""A stop under either server with DRAIN_SECONDS: readiness answers 503 while the
server still serves, then the graceful stop closes the port and exits 0."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.distributed.support import Instance
from tests.support.http_clients import http_status
from tests.support.polling import poll


def instance(tmp_path: Path, drain_seconds: int, server: str) -> Instance:
    return Instance(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'drain.sqlite3'}",
            "DRAIN_SECONDS": str(drain_seconds),
            "MIGRATE_ON_START": "0",
            "LOG_LEVEL": "info",
        },
        tmp_path / "server.log",
        server=server,
    ).start(ready_path="/health/live")


def test_sigterm_drains_then_stops_gracefully(tmp_path: Path, http_server: str) -> None:
    server = instance(tmp_path, drain_seconds=2, server=http_server)
    assert http_status(server.port, "/health/ready") == 200
    server.send(signal.SIGTERM)
    began = time.monotonic()
    poll(
        lambda: http_status(server.port, "/health/ready") == 503,
        within=5,
        what="readiness 503 after SIGTERM",
    )
    # Still serving while it drains: a load balancer's last requests succeed.
    assert http_status(server.port, "/health/live") == 200
    assert time.monotonic() - began < 1.5
    assert server.wait(timeout=2 + 10) == 0
    assert time.monotonic() - began >= 2  # the whole drain, not less
    assert http_status(server.port, "/health/live") is None
    assert "draining: readiness answers 503 for 2 s" in server.log()


def test_a_second_sigterm_ends_the_drain_at_once(
    tmp_path: Path, http_server: str
) -> None:
    server = instance(tmp_path, drain_seconds=120, server=http_server)
    server.send(signal.SIGTERM)
    poll(
        lambda: http_status(server.port, "/health/ready") == 503,
        within=5,
        what="readiness 503 after SIGTERM",
    )
    server.send(signal.SIGTERM)
    assert server.wait(timeout=10) == 0


def test_without_a_drain_sigterm_stops_at_once(
    tmp_path: Path, http_server: str
) -> None:
    server = instance(tmp_path, drain_seconds=0, server=http_server)
    began = time.monotonic()
    server.send(signal.SIGTERM)
    assert server.wait(timeout=10) == 0
    assert time.monotonic() - began < 5
    assert "draining" not in server.log()


def test_a_stopping_server_refuses_new_connections_at_once(
    tmp_path: Path, http_server: str
) -> None:
    """While a stopping worker waits for a request in progress, its port is
    closed: a new connection is refused at once (a proxy moves on), not left
    in a backlog that no one accepts and that is reset at exit."""
    server = instance(tmp_path, drain_seconds=0, server=http_server)
    in_progress = socket.create_connection(("127.0.0.1", server.port))
    in_progress.sendall(
        b"POST /v1/managers HTTP/1.1\r\nHost: api\r\nContent-Length: 100\r\n\r\n{"
    )
    server.send(signal.SIGTERM)
    poll(lambda: refused(server.port), within=3, what="the port to close")
    with pytest.raises(subprocess.TimeoutExpired):
        server.wait(timeout=0.1)  # still serving the request in progress
    in_progress.close()
    assert server.wait(timeout=15) == 0


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False

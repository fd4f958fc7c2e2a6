"""Every gunicorn internal the server relies on, in one place.

gunicorn documents worker_class, not the gthread worker's insides that a
subclass has to use: the hooks it calls (which entrypoints/server/worker.py
overrides), its poller and connection count, and a connection's parser with
the bytes it read ahead. The worker reaches them through the functions here,
and overrides only the hooks listed in HOOKS; PRIVATE_NAMES lists every name,
and a test checks them against the installed gunicorn, naming whichever an
upgrade renamed or removed.
"""

from __future__ import annotations

import selectors
import socket
from collections.abc import Callable
from typing import Any

from gunicorn import http
from gunicorn.workers.gthread import TConn, ThreadWorker

__all__ = ["HOOKS", "PRIVATE_NAMES", "TConn", "ThreadWorker"]

# gthread's methods the worker overrides: gthread calls them.
HOOKS = (
    "accept",
    "enqueue_req",
    "handle_error",
    "handle_request",
    "finish_request",
    "murder_pending",
    "set_accept_enabled",
)
# "module:attribute path"; an attribute a constructor sets counts as present.
PRIVATE_NAMES = (
    *(f"gunicorn.workers.gthread:ThreadWorker.{hook}" for hook in HOOKS),
    "gunicorn.workers.gthread:ThreadWorker.poller",
    "gunicorn.workers.gthread:ThreadWorker.nr_conns",
    "gunicorn.workers.gthread:ThreadWorker.worker_connections",
    "gunicorn.workers.gthread:TConn.sock",
    "gunicorn.workers.gthread:TConn.client",
    "gunicorn.workers.gthread:TConn.parser",
    "gunicorn.workers.gthread:TConn.data_ready",
    "gunicorn.workers.gthread:TConn.initialized",
    "gunicorn.http:get_parser",
    "gunicorn.http.unreader:Unreader.take_buffered",
    "gunicorn.http.unreader:Unreader.unread",
)


def socket_of(conn: TConn) -> socket.socket:
    sock: socket.socket = conn.sock
    return sock


def client_of(conn: TConn) -> Any:
    """The peer: an (address, port) tuple, or a unix socket's name."""
    return conn.client


def set_socket(conn: TConn, sock: Any) -> None:
    """What gunicorn writes the connection's answers to (its reads go through
    the parser, which keeps the real socket)."""
    conn.sock = sock


def is_new(conn: TConn) -> bool:
    """Whether no request of this connection has been served yet."""
    return not conn.initialized


def take_read_ahead(conn: TConn) -> bytes:
    """What a thread read past the last request (the next pipelined one)."""
    return bytes(conn.parser.unreader.take_buffered()) if conn.parser else b""


def hand_to_parser(worker: ThreadWorker, conn: TConn, data: bytes) -> None:
    """Put a whole request back before the parser, ready to be read by a
    thread without blocking."""
    if conn.parser is None:
        conn.parser = http.get_parser(worker.cfg, conn.sock, conn.client)
    conn.parser.unreader.unread(data)
    conn.data_ready = True


def watch(
    worker: ThreadWorker, conn: TConn, on_readable: Callable[[Any], None]
) -> None:
    """Call on_readable(sock) from the event loop when conn has bytes."""
    worker.poller.register(conn.sock, selectors.EVENT_READ, on_readable)


def watch_writable(
    worker: ThreadWorker, conn: TConn, on_writable: Callable[[Any], None]
) -> None:
    """Call on_writable(sock) from the event loop when conn can take bytes."""
    worker.poller.register(conn.sock, selectors.EVENT_WRITE, on_writable)


def unwatch(worker: ThreadWorker, conn: TConn) -> None:
    worker.poller.unregister(conn.sock)


def over_capacity(worker: ThreadWorker) -> bool:
    """Whether the worker holds more connections than worker_connections."""
    return bool(worker.nr_conns > worker.worker_connections)


def forget_connection(worker: ThreadWorker) -> None:
    """One connection fewer in the worker's count (it caps accepting at
    worker_connections)."""
    worker.nr_conns -= 1

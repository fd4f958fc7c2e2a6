"""Closing a connection after its answer without blocking the event loop.

The write side is shut at once (the answer is complete); whatever the client
still sends (the rest of an oversized body, say) is read and dropped until
it closes or a deadline passes. Closing at once instead would turn unread
bytes into a reset that can destroy the answer before the client reads it;
gunicorn's own graceful close waits for the client in a loop of up to 2 s on
the worker's event loop, where nothing else is accepted or dispatched.
"""

from __future__ import annotations

import contextlib
import socket
import time
from functools import partial
from typing import Any

from entrypoints.server import gunicorn_private as gunicorn
from entrypoints.server.framing import READ_SIZE
from entrypoints.server.peers import drop


class Lingering:
    def __init__(self, worker: gunicorn.ThreadWorker, seconds: float) -> None:
        self._worker = worker
        self._seconds = seconds
        self._until: dict[gunicorn.TConn, float] = {}

    def start(self, conn: gunicorn.TConn) -> None:
        sock = gunicorn.socket_of(conn)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        sock.setblocking(False)
        self._until[conn] = time.monotonic() + self._seconds
        gunicorn.watch(self._worker, conn, partial(self._on_readable, conn))

    def expire(self, now: float) -> None:
        """Close the connections whose clients kept them open past the deadline."""
        for conn in [c for c, until in self._until.items() if until <= now]:
            self._end(conn)

    def _on_readable(self, conn: gunicorn.TConn, _sock: Any) -> None:
        try:
            if gunicorn.socket_of(conn).recv(READ_SIZE):
                return  # dropped
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        self._end(conn)  # the client closed its side, or reset

    def _end(self, conn: gunicorn.TConn) -> None:
        del self._until[conn]
        drop(self._worker, conn)

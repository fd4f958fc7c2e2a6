"""Answers a client must take within SEND_TIMEOUT of the app producing them.

A thread writes each answer with blocking sends; a client that reads slowly,
or pipelines many requests and reads none of the answers, would hold that
thread as long as it likes once the socket's send buffer is full. Two
bounds: the kernel ends a send that makes no progress for SEND_TIMEOUT
(SO_SNDTIMEO: the client reads nothing), and the worker's event loop cuts
off a connection whose answer is still being sent SEND_TIMEOUT after it was
ready (the client reads, but too slowly), shutting its socket down so the
blocked send fails at once. Either way the thread is free, and the worker
logs and counts it.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from entrypoints.server import gunicorn_private as gunicorn


class SendDeadlines:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._until: dict[gunicorn.TConn, float] = {}
        self._serving = threading.local()  # the connection this thread serves
        # Connections whose blocking send timed out: freed, to be logged.
        self._missed: list[gunicorn.TConn] = []

    @contextmanager
    def serving(self, conn: gunicorn.TConn) -> Iterator[None]:
        """Around a thread's handling of one request of conn."""
        if not getattr(conn, "send_timed", False):
            # Blocking sends only: the event loop's own sends never block.
            whole = int(self.seconds)
            timeval = struct.pack("ll", whole, int((self.seconds - whole) * 1e6))
            sock = gunicorn.socket_of(conn)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
            conn.send_timed = True
        self._serving.conn = conn
        try:
            yield
        finally:
            self._serving.conn = None
            with self._lock:
                self._until.pop(conn, None)

    def answer_ready(self) -> None:
        """From the thread, once the app has its answer: the clock starts."""
        conn = getattr(self._serving, "conn", None)
        if conn is not None:
            with self._lock:
                self._until[conn] = time.monotonic() + self.seconds

    def send_timed_out(self, conn: gunicorn.TConn) -> None:
        """From the thread: the kernel ended its send (SO_SNDTIMEO)."""
        with self._lock:
            self._missed.append(conn)

    def overdue(self, now: float) -> list[tuple[gunicorn.TConn, bool]]:
        """The connections whose answers were not taken in time, each with
        whether its thread is free already (its send timed out); forgotten."""
        with self._lock:
            late = [conn for conn, until in self._until.items() if until <= now]
            for conn in late:
                del self._until[conn]
            missed, self._missed = self._missed, []
        return [(conn, False) for conn in late] + [(conn, True) for conn in missed]


def timed_app(app: Any, deadlines: SendDeadlines) -> Any:
    """The WSGI app, starting the send clock once it has answered."""

    def answered(environ: Any, start_response: Any) -> Any:
        result = app(environ, start_response)
        deadlines.answer_ready()
        return result

    return answered

"""Answers written without a thread ever waiting on the client.

While a thread writes an answer, the connection's socket is stood in for by
WriteBehind: what the kernel takes at once is sent (MSG_DONTWAIT), the rest
kept in order. The thread is then free; the worker's event loop sends what
is kept as the client reads it, within SEND_TIMEOUT, and only then reads the
connection's next request or closes it. A client that reads slowly, or
pipelines requests and reads none of the answers, costs a buffer of one
answer, never a thread.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from entrypoints.server import gunicorn_private as gunicorn
from entrypoints.server.peers import drop


class WriteBehind:
    """A connection's socket, as gunicorn writes an answer on it."""

    def __init__(self, sock: socket.socket) -> None:
        self._socket = sock
        self.pending = bytearray()

    def sendall(self, data: bytes) -> None:
        if not self.pending:
            try:
                sent = self._socket.send(data, socket.MSG_DONTWAIT)
            except BlockingIOError:
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
        self.pending += data

    def send(self, data: bytes, flags: int = 0) -> int:
        self.sendall(data)
        return len(data)

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        """A file's bytes, kept like any others (gunicorn sends static files
        with it)."""
        size = count if count is not None else os.fstat(file.fileno()).st_size - offset
        file.seek(offset)
        data = file.read(size)
        self.sendall(data)
        return len(data)

    def flush(self) -> bool:
        """From the event loop, the socket non-blocking: send what the client
        takes now; whether nothing is left. OSError when the client is gone."""
        while self.pending:
            try:
                sent = self._socket.send(self.pending)
            except BlockingIOError:
                return False
            del self.pending[:sent]
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._socket, name)  # recv, fileno, shutdown and the rest


class Flushing:
    """Answers still going out, sent by the event loop as their clients read;
    then done(conn, fs) carries on as gunicorn would (keep alive, or close)."""

    def __init__(
        self,
        worker: gunicorn.ThreadWorker,
        seconds: float,
        done: Callable[[gunicorn.TConn, Any], None],
    ) -> None:
        self._worker = worker
        self.seconds = seconds
        self._done = done
        self._going: dict[gunicorn.TConn, tuple[WriteBehind, Any, float]] = {}

    def start(self, conn: gunicorn.TConn, behind: WriteBehind, fs: Any) -> None:
        gunicorn.socket_of(conn).setblocking(False)
        self._going[conn] = (behind, fs, time.monotonic() + self.seconds)
        gunicorn.watch_writable(self._worker, conn, partial(self._on_writable, conn))

    def overdue(self, now: float) -> list[gunicorn.TConn]:
        """The connections whose answers were not taken in time, closed."""
        late = [conn for conn, (_, _, until) in self._going.items() if until <= now]
        for conn in late:
            self._close(conn)
        return late

    def _on_writable(self, conn: gunicorn.TConn, _sock: Any) -> None:
        behind, fs, _ = self._going[conn]
        try:
            if not behind.flush():
                return
        except OSError:  # the client is gone
            self._close(conn)
            return
        del self._going[conn]
        with contextlib.suppress(KeyError, ValueError, OSError):
            gunicorn.unwatch(self._worker, conn)
        self._done(conn, fs)

    def _close(self, conn: gunicorn.TConn) -> None:
        del self._going[conn]
        drop(self._worker, conn)

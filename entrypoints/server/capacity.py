"""A worker at its connection cap refuses new connections at once instead of
leaving them queued, and survives running out of descriptors.

gthread stops accepting at worker_connections; with a listening socket per
worker (SO_REUSEPORT) the kernel still queues new connections on a full
worker's socket, where they wait even while another worker has room. Here
accepting stays on while the worker runs: a connection over the cap is
answered 503 with Retry-After and closed (the worker keeps descriptors for
that: entrypoints/server/open_files.py). If accept() itself fails for want
of descriptors (EMFILE, ENFILE), gthread would let the error end the worker;
here accepting pauses for a second, logged and counted, and resumes.
"""

from __future__ import annotations

import contextlib
import errno
import time
from typing import Any

from entrypoints.server import gunicorn_private as gunicorn
from entrypoints.server.framing import FULL_ANSWER

_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
PAUSE_SECONDS = 1.0


class AcceptAtCapacity(gunicorn.ThreadWorker):  # type: ignore[misc]  # untyped
    _paused_until = 0.0
    _full_logged = False

    def set_accept_enabled(self, enabled: bool) -> None:
        if self.alive:
            enabled = time.monotonic() >= self._paused_until
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:
            # Stopping: close the listeners now, not after the grace period.
            # Open, the kernel would go on completing handshakes into a
            # backlog no one accepts, and reset those connections at exit; a
            # closed port is refused at once, and a proxy moves on.
            for listener in self.sockets:
                with contextlib.suppress(OSError):
                    listener.close()

    def accept(self, listener: Any) -> None:
        try:
            super().accept(listener)
        except OSError as exc:
            if exc.errno not in _OUT_OF_DESCRIPTORS:
                raise
            self.log.warning(
                "out of descriptors (%s): not accepting for %s s", exc, PAUSE_SECONDS
            )
            self.refused_connection("descriptors")
            self._paused_until = time.monotonic() + PAUSE_SECONDS
            self.set_accept_enabled(False)

    def refuse_when_full(self, conn: gunicorn.TConn) -> bool:
        """For a new connection: answer 503 and close it if the worker holds
        more than its cap; whether it did."""
        if not gunicorn.over_capacity(self):
            self._full_logged = False
            return False
        if not self._full_logged:  # once per episode
            self.log.warning("at the connection cap: refusing new connections")
            self._full_logged = True
        self.refused_connection("full")
        with contextlib.suppress(OSError):
            gunicorn.socket_of(conn).send(FULL_ANSWER)
        gunicorn.forget_connection(self)
        conn.close()
        return True

    def resume_accepting(self) -> None:
        """From the event loop: accept again once a pause is over."""
        if self._paused_until and time.monotonic() >= self._paused_until:
            self._paused_until = 0.0
            self.set_accept_enabled(True)

    def refused_connection(self, why: str) -> None:
        """Count a connection refused, or not accepted (the worker's metric)."""

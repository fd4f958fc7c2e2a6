"""Dealing with a client from the worker's event loop: a best-effort send
that never blocks, and its address for the log."""

from __future__ import annotations

import contextlib
import errno

from entrypoints.server import gunicorn_private as gunicorn


def send_quietly(conn: gunicorn.TConn, data: bytes) -> None:
    """Send what the socket takes now; never blocks, never raises for a
    client that is gone."""
    try:
        gunicorn.socket_of(conn).send(data)
    except OSError as exc:
        if exc.errno not in (errno.EAGAIN, errno.EPIPE, errno.ECONNRESET):
            raise


def address_of(conn: gunicorn.TConn) -> str:
    client = gunicorn.client_of(conn)
    if isinstance(client, tuple) and client:
        return str(client[0])
    return str(client or "unix socket")


def drop(worker: gunicorn.ThreadWorker, conn: gunicorn.TConn) -> None:
    """Close a connection the event loop was watching, and stop counting it."""
    with contextlib.suppress(KeyError, ValueError, OSError):
        gunicorn.unwatch(worker, conn)
    gunicorn.forget_connection(worker)
    conn.close()

"""Dealing with a client from the worker's event loop: a best-effort send
that never blocks, its address for the log, and cutting it off."""

from __future__ import annotations

import contextlib
import errno
import socket

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


def cut_off(conn: gunicorn.TConn) -> None:
    """Shut the socket down both ways: a thread blocked sending on it fails at
    once, and the event loop sees it closed."""
    with contextlib.suppress(OSError):
        gunicorn.socket_of(conn).shutdown(socket.SHUT_RDWR)

"""One thread's connection to one Redis node, written and read by the fast
path itself: redis-py connects it (and says HELLO, AUTH, SELECT), then the
socket is written with the packed commands and read with a hiredis reader of
its own, blocking, with the timeout kept by the kernel (SO_SNDTIMEO,
SO_RCVTIMEO): a socket with a Python timeout polls before every send and
every receive, and each of those system calls lets go of the GIL, which in a
threaded worker costs a hand-over to another thread and back
(bench/RESULTS.md). Sending and receiving are apart, so a caller may write
to several nodes before it reads any reply.
"""

from __future__ import annotations

import socket
import ssl
import struct
from typing import Any, NoReturn

import hiredis
import redis
from redis.exceptions import InvalidResponse

from adapters.redis.redis_private import error_reply, socket_of


class Unanswered(redis.ConnectionError):
    """The connection failed before any reply came: the server did not run it."""


def _closed(heard: bool, why: str) -> redis.ConnectionError:
    kind = redis.ConnectionError if heard else Unanswered
    return kind(f"Redis connection lost: {why}")


_MORE = object()  # hiredis: the reply is not all here yet


class Wire:
    """One thread's connection to one node."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._socket: socket.socket | None = None
        self._reader: Any = None
        self._buffer = bytearray(65536)
        self._heard = False  # any reply bytes in this exchange yet

    def send(self, payload: bytes) -> None:
        sock = self._ready()
        self._heard = False
        try:
            sock.sendall(payload)
        except (BlockingIOError, TimeoutError):  # part of it may have gone
            self._fail(redis.TimeoutError("Timeout writing to Redis"))
        except OSError as exc:
            self._fail(Unanswered(f"Error writing to Redis: {exc}"))

    def receive(self, count: int) -> list[Any]:
        """count replies; an error reply is in the list as its exception, so
        the connection stays in step."""
        sock, reader = self._ready(), self._reader
        replies: list[Any] = []
        while len(replies) < count:
            try:
                reply = reader.gets()
            except InvalidResponse as exc:  # not Redis speaking, or garbled
                self._fail(redis.ConnectionError(f"Redis protocol error: {exc}"))
            if reply is _MORE:
                self._receive(sock)
            else:
                replies.append(reply)
        return replies

    def _receive(self, sock: socket.socket) -> None:
        try:
            size = sock.recv_into(self._buffer)
        except (BlockingIOError, TimeoutError):
            self._fail(redis.TimeoutError("Timeout reading from Redis"))
        except OSError as exc:
            self._fail(_closed(self._heard, str(exc)))
        if not size:
            self._fail(_closed(self._heard, "closed by the server"))
        self._heard = True
        self._reader.feed(self._buffer, 0, size)

    def _ready(self) -> socket.socket:
        connection = self.connection
        sock = socket_of(connection)
        if sock is None:
            connection.connect()
            sock = socket_of(connection)
            assert sock is not None  # connect() raises when it cannot
        if sock is not self._socket:
            timeout = connection.socket_timeout
            if isinstance(sock, ssl.SSLSocket):
                # TLS retries a read the kernel's timeout ended, for good:
                # keep Python's timeout there (it raises TimeoutError).
                sock.settimeout(timeout)
            elif timeout:
                sock.settimeout(None)
                whole = int(timeout)
                timeval = struct.pack("ll", whole, int((timeout - whole) * 1e6))
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
            self._socket = sock
            self._reader = hiredis.Reader(
                protocolError=InvalidResponse,
                replyError=error_reply,
                notEnoughData=_MORE,
            )
        return sock

    def reset(self) -> None:
        """Connect afresh next time: this server may no longer be the one
        the address names (a failover behind a DNS name), or not as it was."""
        self.connection.disconnect()
        self._socket = None

    def _fail(self, error: redis.RedisError) -> NoReturn:
        """Out of step now: the next exchange connects afresh."""
        self.reset()
        raise error

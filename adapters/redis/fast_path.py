"""The hot path's Redis calls, each on a connection its thread keeps.

redis-py's `Redis.execute_command` checks a connection out of the pool and
back in, wraps the call in its retry machinery and records observability
events on each command: about 80 µs of CPU per command, where the command on
a connection already in hand costs about 30 (bench/RESULTS.md). The rate
limiter and the response cache run on every request, so they send their
commands here: each thread takes one connection from the client's pool the
first time and keeps it (the pool's limit still counts it), and commands are
packed once by redis-py and sent on it.

The fast path writes and reads that connection's socket itself, blocking, with
the timeout kept by the kernel (SO_SNDTIMEO, SO_RCVTIMEO): a socket with a
Python timeout polls before every send and every receive, and each of those
system calls lets go of the GIL, which in a threaded worker costs a
hand-over to another thread and back (bench/RESULTS.md).

A connection that broke while idle (Redis restarted) shows up as a
ConnectionError on its next use, before any reply; the command is then sent
once more on a fresh connection. That cannot run it twice: the broken
connection's server never saw it. A timeout is not retried (the command may
have run).
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import weakref
from collections.abc import Sequence
from typing import Any, NoReturn

import hiredis
import redis
from redis.exceptions import InvalidResponse, NoScriptError

from adapters.redis.redis_private import error_reply, socket_of

_fast_paths: weakref.WeakKeyDictionary[redis.Redis, FastPath] = (
    weakref.WeakKeyDictionary()
)
_fast_paths_lock = threading.Lock()
# Bumped in a forked child, whose threads must not use the parent's sockets;
# cheaper than asking os.getpid() on every call.
_forks = [0]
os.register_at_fork(after_in_child=lambda: _forks.__setitem__(0, _forks[0] + 1))


def fast_path_for(client: redis.Redis) -> FastPath:
    """The one fast path of this client, so its adapters share a thread's connection."""
    with _fast_paths_lock:
        fast_path = _fast_paths.get(client)
        if fast_path is None:
            fast_path = _fast_paths[client] = FastPath(client)
        return fast_path


_KEPT_PACKINGS = 4096


class FastPath:
    def __init__(self, client: redis.Redis) -> None:
        self._pool = client.connection_pool
        self._mine = threading.local()
        self._packed: dict[tuple[tuple[Any, ...], ...], bytes] = {}

    def call(self, *args: Any, again: bool = False) -> Any:
        """One command; its reply as redis-py parses it (bytes, not str)."""
        (reply,) = self.pipeline([args], again=again)
        return reply

    def pipeline(
        self, commands: Sequence[Sequence[Any]], again: bool = False
    ) -> list[Any]:
        """Several commands in one round trip; their replies in order. An
        error reply raises (redis.ResponseError) after every reply is read.
        again=True: these exact commands recur (a client's limiter check, a
        record's cache read), so their packed bytes are kept and reused;
        packing costs more than sending."""
        wire = self._wire()
        payload = self._pack(wire.connection, commands, again)
        try:
            return wire.exchange(payload, len(commands))
        except _Unanswered:
            return wire.exchange(payload, len(commands))

    def script(self, source: str) -> FastPathScript:
        return FastPathScript(self, source)

    def _pack(
        self, connection: Any, commands: Sequence[Sequence[Any]], again: bool
    ) -> bytes:
        if not again:
            return b"".join(connection.pack_commands(commands))
        key = tuple(tuple(command) for command in commands)
        packed = self._packed.get(key)
        if packed is None:
            if len(self._packed) >= _KEPT_PACKINGS:
                self._packed.clear()  # bounded; the busy ones come back at once
            packed = self._packed[key] = b"".join(connection.pack_commands(commands))
        return packed

    def _wire(self) -> _Wire:
        held = getattr(self._mine, "held", None)
        if held is None or held[0] != _forks[0]:
            held = self._mine.held = (_forks[0], _Wire(self._pool.get_connection()))
        return held[1]


class _Unanswered(redis.ConnectionError):
    """The connection failed before any reply came: the server did not run it."""


def _closed(heard: bool, why: str) -> redis.ConnectionError:
    kind = redis.ConnectionError if heard else _Unanswered
    return kind(f"Redis connection lost: {why}")


_MORE = object()  # hiredis: the reply is not all here yet


class _Wire:
    """One thread's connection: redis-py connects it (and says HELLO, AUTH,
    SELECT), then the fast path sends on its socket and reads replies with a
    hiredis reader of its own."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._socket: socket.socket | None = None
        self._reader: Any = None
        self._buffer = bytearray(65536)
        self._heard = False  # any reply bytes in this exchange yet

    def exchange(self, payload: bytes, count: int) -> list[Any]:
        """Sends the packed commands and reads count replies. An error reply
        raises after every reply is read, so the connection stays in step."""
        sock, reader = self._ready(), self._reader
        self._heard = False
        try:
            sock.sendall(payload)
        except BlockingIOError:  # SO_SNDTIMEO: part of it may have gone
            self._fail(redis.TimeoutError("Timeout writing to Redis"))
        except OSError as exc:
            self._fail(_Unanswered(f"Error writing to Redis: {exc}"))
        replies: list[Any] = []
        error: redis.ResponseError | None = None
        while len(replies) < count:
            try:
                reply = reader.gets()
            except InvalidResponse as exc:  # not Redis speaking, or garbled
                self._fail(redis.ConnectionError(f"Redis protocol error: {exc}"))
            if reply is _MORE:
                self._receive(sock)
            elif isinstance(reply, redis.ResponseError):
                error = error or reply
                replies.append(reply)
            else:
                replies.append(reply)
        if error is not None:
            raise error
        return replies

    def _receive(self, sock: socket.socket) -> None:
        try:
            size = sock.recv_into(self._buffer)
        except BlockingIOError:  # SO_RCVTIMEO
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
            sock.settimeout(None)
            if timeout:
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

    def _fail(self, error: redis.RedisError) -> NoReturn:
        """Out of step now: the next exchange connects afresh."""
        self.connection.disconnect()
        self._socket = None
        raise error


class FastPathScript:
    """A Lua script run with EVALSHA, loaded again when Redis has lost it."""

    def __init__(self, fast_path: FastPath, source: str) -> None:
        self._fast_path = fast_path
        self._source = source
        self._sha: str | None = None

    def __call__(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return self._fast_path.call(*self.command(keys, args), again=True)
        except NoScriptError:  # a restarted or flushed Redis
            self._sha = None
            return self._fast_path.call(*self.command(keys, args), again=True)

    def command(self, keys: Sequence[str], args: Sequence[Any]) -> tuple[Any, ...]:
        """The EVALSHA to send (in a pipeline of the caller's); the script is
        loaded first if this process has not loaded it yet."""
        if self._sha is None:
            self._sha = self._fast_path.call("SCRIPT", "LOAD", self._source).decode()
        return ("EVALSHA", self._sha, len(keys), *keys, *args)

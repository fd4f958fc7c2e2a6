"""The hot path's Redis calls, each on a connection its thread keeps.

redis-py's `Redis.execute_command` checks a connection out of the pool and
back in, wraps the call in its retry machinery and records observability
events on each command: about 80 µs of CPU per command, where the command on
a connection already in hand costs about 30 (bench/RESULTS.md). The rate
limiter and the response cache run on every request, so they send their
commands here: each thread takes one connection from the client's pool the
first time and keeps it (the pool's limit still counts it), and commands are
packed once by redis-py and sent on it.

A connection that broke while idle (Redis restarted) shows up as a
ConnectionError on its next use; the command is then sent once more on a
fresh connection. That cannot run it twice: the broken connection's server
never saw it. A timeout is not retried (the command may have run).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Sequence
from typing import Any

import redis
from redis.exceptions import NoScriptError

_lanes: weakref.WeakKeyDictionary[redis.Redis, Lane] = weakref.WeakKeyDictionary()
_lanes_lock = threading.Lock()


def lane_for(client: redis.Redis) -> Lane:
    """The one lane of this client, so its adapters share a thread's connection."""
    with _lanes_lock:
        lane = _lanes.get(client)
        if lane is None:
            lane = _lanes[client] = Lane(client)
        return lane


_KEPT_PACKINGS = 4096


class Lane:
    def __init__(self, client: redis.Redis) -> None:
        self._pool = client.connection_pool
        self._mine = threading.local()
        self._packed: dict[tuple[tuple[Any, ...], ...], list[bytes]] = {}

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
        connection = self._connection()
        packed = self._pack(connection, commands, again)
        try:
            return self._exchange(connection, packed, len(commands))
        except redis.ConnectionError:
            connection.disconnect()  # the next send connects afresh
            return self._exchange(connection, packed, len(commands))

    def script(self, source: str) -> LaneScript:
        return LaneScript(self, source)

    def _exchange(self, connection: Any, packed: list[bytes], count: int) -> list[Any]:
        connection.send_packed_command(packed, check_health=False)
        replies: list[Any] = []
        error: redis.ResponseError | None = None
        for _ in range(count):
            try:
                replies.append(connection.read_response())
            except redis.ResponseError as exc:  # the connection is still in step
                error = error or exc
                replies.append(exc)
        if error is not None:
            raise error
        return replies

    def _pack(
        self, connection: Any, commands: Sequence[Sequence[Any]], again: bool
    ) -> list[bytes]:
        if not again:
            return list(connection.pack_commands(commands))
        key = tuple(tuple(command) for command in commands)
        packed = self._packed.get(key)
        if packed is None:
            if len(self._packed) >= _KEPT_PACKINGS:
                self._packed.clear()  # bounded; the busy ones come back at once
            packed = self._packed[key] = list(connection.pack_commands(commands))
        return packed

    def _connection(self) -> Any:
        held = getattr(self._mine, "held", None)
        # After a fork the child must not share its parent's socket.
        if held is None or held[0] != os.getpid():
            held = self._mine.held = (os.getpid(), self._pool.get_connection())
        return held[1]


class LaneScript:
    """A Lua script run with EVALSHA, loaded again when Redis has lost it."""

    def __init__(self, lane: Lane, source: str) -> None:
        self._lane = lane
        self._source = source
        self._sha: str | None = None

    def __call__(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return self._lane.call(*self.command(keys, args), again=True)
        except NoScriptError:  # a restarted or flushed Redis
            self._sha = None
            return self._lane.call(*self.command(keys, args), again=True)

    def command(self, keys: Sequence[str], args: Sequence[Any]) -> tuple[Any, ...]:
        """The EVALSHA to send (in a pipeline of the caller's); the script is
        loaded first if this process has not loaded it yet."""
        if self._sha is None:
            self._sha = self._lane.call("SCRIPT", "LOAD", self._source).decode()
        return ("EVALSHA", self._sha, len(keys), *keys, *args)

"""The hot path's Redis calls, each on a connection its thread keeps.

redis-py's `Redis.execute_command` checks a connection out of the pool and
back in, wraps the call in its retry machinery and records observability
events on each command: about 80 µs of CPU per command, where the command on
a connection already in hand costs about 30 (bench/RESULTS.md). The rate
limiter and the response cache run on every request, so they send their
commands here: each thread takes one connection from the client's pool the
first time and keeps it (the pool's limit still counts it), and commands are
packed once by redis-py and sent on it.

The fast path writes and reads that connection's socket itself
(adapters/redis/wire.py).

A connection that broke while idle (Redis restarted) shows up as a
ConnectionError on its next use, before any reply; the command is then sent
once more on a fresh connection. That cannot run it twice: the broken
connection's server never saw it. A timeout is not retried (the command may
have run).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Sequence
from typing import Any

import redis

from adapters.redis.client import (
    CLUSTER_REPLIES,
    DeploymentError,
    address_of,
    reply_code,
)
from adapters.redis.lane import Script, ScriptBook, raise_first_error
from adapters.redis.wire import Unanswered, Wire

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
_CLUSTER_HINT = "REDIS_URL names a Redis Cluster node; set REDIS_CLUSTER=1 and restart"


class FastPath:
    """The lane (adapters/redis/lane.py) of one Redis node.

    A reply only a cluster node gives (MOVED, CROSSSLOT...) means REDIS_URL
    names a Redis Cluster while REDIS_CLUSTER is not set: from then on every
    call fails at once with a DeploymentError saying so, since the keys of
    most slots are out of reach and the rest would be a partial service."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._pool = client.connection_pool
        self._mine = threading.local()
        self._packed: dict[tuple[tuple[Any, ...], ...], bytes] = {}
        self._scripts = ScriptBook()
        self.address = address_of(client)
        self._cluster_seen: DeploymentError | None = None

    def call(self, *args: Any, again: bool = False) -> Any:
        (reply,) = self.pipeline([args], again=again)
        return reply

    def pipeline(
        self, commands: Sequence[Sequence[Any]], again: bool = False
    ) -> list[Any]:
        if self._cluster_seen is not None:
            raise self._cluster_error()
        replies = self.exchange(commands, again)
        for reply in replies:
            if isinstance(reply, Exception):
                return self._settle(commands, replies)
        return replies

    def script(self, source: str) -> Script:
        return self._scripts.add(self, source)

    def ping(self) -> None:
        self.call("PING")

    def exchange(
        self, commands: Sequence[Sequence[Any]], again: bool = False
    ) -> list[Any]:
        """The commands sent and their replies read, error replies among them
        as exceptions; a connection that broke while idle is replaced once."""
        try:
            return self.send(commands, again).receive(len(commands))
        except Unanswered:
            return self.send(commands, again).receive(len(commands))

    def send(self, commands: Sequence[Sequence[Any]], again: bool = False) -> Wire:
        """The commands written on this thread's connection; its wire, whose
        receive() reads their replies (so a caller may send to other nodes
        before reading any)."""
        wire = self._wire()
        wire.send(self._pack(wire.connection, commands, again))
        return wire

    def _settle(
        self, commands: Sequence[Sequence[Any]], replies: list[Any]
    ) -> list[Any]:
        """Replies with an error among them: scripts Redis lost are loaded
        and run once more; then the first error raises."""
        unloaded = self._scripts.unloaded(commands, replies)
        if unloaded:  # a restarted or flushed Redis
            self.exchange(self._scripts.loads(commands, unloaded))
            rerun = self.exchange([commands[i] for i in unloaded])
            for i, reply in zip(unloaded, rerun, strict=True):
                replies[i] = reply
        try:
            self._notice_cluster(replies)
            return raise_first_error(replies, self.address)
        except DeploymentError:
            # READONLY from a primary a failover demoted, behind a name that
            # now points at the new one: a fresh connection finds it.
            self._wire().reset()
            raise

    def _notice_cluster(self, replies: list[Any]) -> None:
        for reply in replies:
            code = reply_code(reply)
            if code in CLUSTER_REPLIES:
                self._cluster_seen = DeploymentError(
                    str(code).lower(),
                    f"{code} {reply}: the Redis at {self.address} is a Redis "
                    "Cluster node, and this service is not in cluster mode; "
                    "set REDIS_CLUSTER=1 (and restart)",
                    hint=_CLUSTER_HINT,
                )
                raise self._cluster_error()

    def _cluster_error(self) -> DeploymentError:
        seen = self._cluster_seen
        assert seen is not None
        return DeploymentError(seen.kind, str(seen), hint=seen.hint)

    def probe_keys(self, prefix: str) -> list[str]:
        return [f"{prefix}probe"]

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

    def _wire(self) -> Wire:
        held = getattr(self._mine, "held", None)
        if held is None or held[0] != _forks[0]:
            held = self._mine.held = (_forks[0], Wire(self._pool.get_connection()))
        return held[1]

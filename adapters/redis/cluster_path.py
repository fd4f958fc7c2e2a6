"""The lane (adapters/redis/lane.py) of a Redis Cluster: each command goes to
the primary that owns its keys' slot, on that node's fast path.

redis-py's RedisCluster refuses EVALSHA and MGET in its pipelines, and sends
a pipeline's commands node after node; the hot path needs the limiter's
script and the cache's read in one round trip. So this lane keeps its own
slot map (CLUSTER SLOTS), writes every node's commands before it reads any
reply, and answers the cluster's redirections itself:

- MOVED: the slot has a new owner (a failover, a resharding): the command
  goes there, and the map is read again soon;
- ASK: the slot is migrating: the command goes to the node named, after
  ASKING;
- NOSCRIPT: that node lacks the script (a replica just promoted): it is
  loaded there and the command sent again;
- READONLY, CLUSTERDOWN, TRYAGAIN: the map is stale or the cluster is
  between states: the map is read again and the command sent once more.

A command is sent at most three times; what is still an error then raises
as from one node. A node that does not answer raises as one Redis would (the
breaker counts it), and the map is read again, at most once a second, so a
replica the cluster promotes is followed within moments.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import redis
from redis.exceptions import AskError, MovedError

from adapters.redis.client import address_of, client_like, reply_code
from adapters.redis.fast_path import FastPath
from adapters.redis.lane import Script, ScriptBook, raise_first_error
from adapters.redis.slot_map import Node, SlotMap, slot_of
from adapters.redis.wire import Unanswered, Wire

_MAP_STALE = frozenset({"READONLY", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN"})
_SENDS = 3  # a command and at most two redirections
_TRYAGAIN_PAUSE = 0.02


class ClusterFastPath:
    def __init__(self, seed: redis.Redis, refresh_seconds: float = 1.0) -> None:
        """seed: a client of any node, whose settings the others share."""
        self._seed = seed
        self.address = address_of(seed)
        kwargs = seed.connection_pool.connection_kwargs
        first = (str(kwargs.get("host", "localhost")), int(kwargs.get("port", 6379)))
        self._paths: dict[Node, FastPath] = {}
        self._lock = threading.Lock()
        self._map = SlotMap(first, self._cluster_slots, refresh_seconds)
        self._scripts = ScriptBook()

    def call(self, *args: Any, again: bool = False) -> Any:
        (reply,) = self.pipeline([args], again=again)
        return reply

    def script(self, source: str) -> Script:
        return self._scripts.add(self, source)

    def ping(self) -> None:
        """PING every primary, all at once."""
        primaries = self.primaries()
        replies: list[Any] = [None] * len(primaries)
        plan = {node: [i] for i, node in enumerate(primaries)}
        self._round(plan, [("PING",)] * len(primaries), replies, set(), False)
        raise_first_error(replies, self.address)

    def primaries(self) -> list[Node]:
        return self._map.primaries()

    def probe_keys(self, prefix: str) -> list[str]:
        """One key a primary: a hash tag found for each one's slots."""
        wanted = set(self.primaries())
        found: dict[Node, str] = {}
        for n in range(100_000):
            if len(found) == len(wanted):
                break
            key = f"{prefix}{{probe-{n}}}"
            owner = self._map.owner(slot_of(("SET", key)))
            if owner in wanted and owner not in found:
                found[owner] = key
        return list(found.values())

    def clients(self) -> list[redis.Redis]:
        """A client of each primary (for publish and subscribe)."""
        return [self._path(node).client for node in self.primaries()]

    def pipeline(
        self, commands: Sequence[Sequence[Any]], again: bool = False
    ) -> list[Any]:
        replies: list[Any] = [None] * len(commands)
        plan: dict[Node, list[int]] = {}
        for i, command in enumerate(commands):
            slot = slot_of(command)
            node = self._map.owner(slot)
            if node is None:
                raise redis.ConnectionError(
                    f"slot {slot} has no primary in the Redis Cluster's map "
                    f"(from {self.address})"
                )
            plan.setdefault(node, []).append(i)
        asking: set[int] = set()
        for _ in range(_SENDS):
            sent_to = {i: node for node, which in plan.items() for i in which}
            self._round(plan, commands, replies, asking, again)
            plan, asking = self._redirected(commands, replies, sent_to)
            if not plan:
                break
            if any(reply_code(r) == "TRYAGAIN" for r in replies):
                time.sleep(_TRYAGAIN_PAUSE)  # a slot mid-migration: a moment
        return raise_first_error(replies, self.address)

    def _round(
        self,
        plan: dict[Node, list[int]],
        commands: Sequence[Sequence[Any]],
        replies: list[Any],
        asking: set[int],
        again: bool,
    ) -> None:
        """Every node's commands written, then every node's replies read."""
        sent: list[tuple[Node, list[int], list[Sequence[Any]], Wire]] = []
        failure: redis.RedisError | None = None
        for node, which in plan.items():
            batch = _batch(commands, which, asking)
            path = self._path(node)
            try:
                try:
                    wire = path.send(batch, again and not asking)
                except Unanswered:
                    wire = path.send(batch, again and not asking)
            except redis.RedisError as exc:
                failure = failure or exc
                continue
            sent.append((node, which, batch, wire))
        for node, which, batch, wire in sent:
            try:
                try:
                    got = wire.receive(len(batch))
                except Unanswered:  # broke while idle: it never ran there
                    got = self._path(node).exchange(batch)
            except redis.RedisError as exc:
                failure = failure or exc
                continue
            _unbatch(got, which, asking, replies)
        if failure is not None:
            self._map.refresh_quietly()  # a failover? the next call finds it
            raise failure

    def _redirected(
        self,
        commands: Sequence[Sequence[Any]],
        replies: list[Any],
        sent_to: dict[int, Node],
    ) -> tuple[dict[Node, list[int]], set[int]]:
        """The commands to send again, by node, and those to send after ASKING."""
        plan: dict[Node, list[int]] = {}
        asking: set[int] = set()
        unloaded = self._scripts.unloaded(commands, replies)
        for node in {sent_to[i] for i in unloaded}:
            mine = [i for i in unloaded if sent_to[i] == node]
            self._path(node).exchange(self._scripts.loads(commands, mine))
        for i in unloaded:
            plan.setdefault(sent_to[i], []).append(i)
        for i, reply in enumerate(replies):
            if isinstance(reply, AskError):  # MOVED too
                node = (str(reply.host), int(reply.port))
                if isinstance(reply, MovedError):
                    self._map.moved(reply.slot_id, node)
                else:
                    asking.add(i)
                plan.setdefault(node, []).append(i)
            elif i in sent_to and reply_code(reply) in _MAP_STALE:
                self._map.refresh_quietly(force=True)
                owner = self._map.owner(slot_of(commands[i]))
                plan.setdefault(owner or sent_to[i], []).append(i)
        return plan, asking

    def _path(self, node: Node) -> FastPath:
        path = self._paths.get(node)
        if path is None:
            with self._lock:
                path = self._paths.get(node)
                if path is None:
                    client = client_like(self._seed, *node)
                    path = self._paths[node] = FastPath(client)
        return path

    def _cluster_slots(self, node: Node) -> Any:
        (slots,) = self._path(node).exchange([("CLUSTER", "SLOTS")])
        return slots


def _batch(
    commands: Sequence[Sequence[Any]], which: list[int], asking: set[int]
) -> list[Sequence[Any]]:
    batch: list[Sequence[Any]] = []
    for i in which:
        if i in asking:
            batch.append(("ASKING",))
        batch.append(commands[i])
    return batch


def _unbatch(
    got: list[Any], which: list[int], asking: set[int], replies: list[Any]
) -> None:
    position = 0
    for i in which:
        if i in asking:
            position += 1  # ASKING's own OK
        replies[i] = got[position]
        position += 1

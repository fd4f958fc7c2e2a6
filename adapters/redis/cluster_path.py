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

import contextlib
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import redis
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot
from redis.exceptions import AskError, MovedError

from adapters.redis.client import address_of, client_like, reply_code
from adapters.redis.fast_path import FastPath, Unanswered, Wire
from adapters.redis.lane import Script, ScriptBook, raise_first_error

Node = tuple[str, int]
_MAP_STALE = frozenset({"READONLY", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN"})
_SENDS = 3  # a command and at most two redirections


def slot_of(command: Sequence[Any]) -> int | None:
    """The slot of a command's keys; None for a command without keys."""
    if command[0] in ("EVALSHA", "EVAL"):
        key = command[3] if int(command[2]) > 0 else None
    elif command[0] in ("PING", "SCRIPT", "CLUSTER", "INFO"):
        key = None
    else:
        key = command[1]
    if key is None:
        return None
    return key_slot(key.encode() if isinstance(key, str) else key)


class ClusterFastPath:
    def __init__(self, seed: redis.Redis, refresh_seconds: float = 1.0) -> None:
        """seed: a client of any node, whose settings the others share."""
        self._seed = seed
        self.address = address_of(seed)
        kwargs = seed.connection_pool.connection_kwargs
        self._known: list[Node] = [
            (kwargs.get("host", "localhost"), kwargs.get("port", 6379))
        ]
        self._paths: dict[Node, FastPath] = {}
        self._owners: list[Node | None] = []
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._refresh_every = refresh_seconds
        self._refreshed_at = -refresh_seconds
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
        return sorted({node for node in self._map() if node is not None})

    def clients(self) -> list[redis.Redis]:
        """A client of each primary (for publish and subscribe)."""
        return [self._path(node).client for node in self.primaries()]

    def pipeline(
        self, commands: Sequence[Sequence[Any]], again: bool = False
    ) -> list[Any]:
        owners = self._map()
        replies: list[Any] = [None] * len(commands)
        plan: dict[Node, list[int]] = {}
        for i, command in enumerate(commands):
            slot = slot_of(command)
            node = owners[slot] if slot is not None else self._known[0]
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
            self._refresh_quietly()  # a failover? the next call finds the new primary
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
                    self._moved(reply.slot_id, node)
                else:
                    asking.add(i)
                plan.setdefault(node, []).append(i)
            elif i in sent_to and reply_code(reply) in _MAP_STALE:
                self._refresh_quietly(force=True)
                slot = slot_of(commands[i])
                owner = self._owners[slot] if slot is not None else None
                plan.setdefault(owner or sent_to[i], []).append(i)
        return plan, asking

    def _moved(self, slot: int, node: Node) -> None:
        with self._lock:
            if self._owners:
                self._owners[slot] = node
        self._refresh_quietly()

    def _path(self, node: Node) -> FastPath:
        path = self._paths.get(node)
        if path is None:
            with self._lock:
                path = self._paths.get(node)
                if path is None:
                    client = client_like(self._seed, *node)
                    path = self._paths[node] = FastPath(client)
        return path

    def _map(self) -> list[Node | None]:
        owners = self._owners
        return owners if owners else self._refresh(force=True)

    def _refresh_quietly(self, force: bool = False) -> None:
        # The call that needed it raises its own error.
        with contextlib.suppress(redis.RedisError):
            self._refresh(force)

    def _refresh(self, force: bool = False) -> list[Node | None]:
        """The slot map read again from the first node that answers; at most
        once a second unless forced, and by one thread at a time."""
        if not force and time.monotonic() - self._refreshed_at < self._refresh_every:
            return self._owners
        with self._refresh_lock:
            if self._owners and time.monotonic() - self._refreshed_at < 0.05:
                return self._owners  # another thread just did
            self._refreshed_at = time.monotonic()
            tried: list[str] = []
            for node in list(self._known):
                try:
                    (slots,) = self._path(node).exchange([("CLUSTER", "SLOTS")])
                except redis.RedisError as exc:
                    tried.append(f"{node[0]}:{node[1]}: {exc}")
                    continue
                if isinstance(slots, Exception):
                    tried.append(f"{node[0]}:{node[1]}: {slots}")
                    continue
                owners, nodes = _parse_slots(slots, node)
                with self._lock:
                    self._owners = owners
                    self._known = [node, *(n for n in nodes if n != node)]
                return owners
        raise redis.ConnectionError(
            "no node of the Redis Cluster gave its slot map: " + "; ".join(tried)
        )


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


def _parse_slots(
    slots: Iterable[Any], asked: Node
) -> tuple[list[Node | None], list[Node]]:
    """CLUSTER SLOTS: the owner of each slot, and every node named."""
    owners: list[Node | None] = [None] * REDIS_CLUSTER_HASH_SLOTS
    nodes: list[Node] = []
    for start, end, *servers in slots:
        for i, (host, port, *_) in enumerate(servers):
            name = host.decode() if isinstance(host, bytes) else str(host)
            node = (name or asked[0], int(port))
            nodes.append(node)
            if i == 0:
                owners[int(start) : int(end) + 1] = [node] * (int(end) - int(start) + 1)
    return owners, list(dict.fromkeys(nodes))

"""Which primary of a Redis Cluster owns each slot, as the cluster says
(CLUSTER SLOTS), read again after a failover or a redirection."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import redis
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

Node = tuple[str, int]


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


class SlotMap:
    def __init__(
        self,
        seed: Node,
        ask: Callable[[Node], Any],
        refresh_seconds: float = 1.0,
    ) -> None:
        """ask(node): that node's CLUSTER SLOTS reply (an error reply as its
        exception); it raises redis.RedisError when the node does not answer."""
        self._ask = ask
        self._seed = seed
        # Every node seen, the last that answered first; the seed always last.
        self._known: list[Node] = [seed]
        self._owners: list[Node | None] = []
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._refresh_every = refresh_seconds
        self._refreshed_at = -refresh_seconds

    def owners(self) -> list[Node | None]:
        """The owner of each slot (None: none); read first if never read."""
        owners = self._owners
        return owners if owners else self.refresh(force=True)

    def owner(self, slot: int | None) -> Node | None:
        """The owner of the slot; for no slot, a node that answered lately."""
        return self._known[0] if slot is None else self.owners()[slot]

    def primaries(self) -> list[Node]:
        return sorted({node for node in self.owners() if node is not None})

    def moved(self, slot: int, node: Node) -> None:
        """The cluster said slot is node's now (MOVED): noted at once, and the
        whole map read again soon (a failover moves many)."""
        with self._lock:
            if self._owners:
                self._owners[slot] = node
        self.refresh_quietly()

    def refresh_quietly(self, force: bool = False) -> None:
        # The call that needed it raises its own error.
        with contextlib.suppress(redis.RedisError):
            self.refresh(force)

    def refresh(self, force: bool = False) -> list[Node | None]:
        """The map read again from the first node that answers; at most once
        a second unless forced, and by one thread at a time."""
        if not force and time.monotonic() - self._refreshed_at < self._refresh_every:
            return self._owners
        asked_at = self._refreshed_at
        with self._refresh_lock:
            if self._owners and self._refreshed_at != asked_at:
                return self._owners  # another thread did, while this one waited
            self._refreshed_at = time.monotonic()
            tried: list[str] = []
            for node in list(self._known):
                try:
                    slots = self._ask(node)
                except redis.RedisError as exc:
                    tried.append(f"{node[0]}:{node[1]}: {exc}")
                    continue
                if isinstance(slots, Exception):
                    tried.append(f"{node[0]}:{node[1]}: {slots}")
                    continue
                owners, nodes = _parse_slots(slots, node)
                with self._lock:
                    self._owners = owners
                    # The seed stays: a name (a configuration endpoint)
                    # still answers when every address the map named changed.
                    others = [n for n in nodes if n not in (node, self._seed)]
                    self._known = list(dict.fromkeys([node, *others, self._seed]))
                return owners
        raise redis.ConnectionError(
            "no node of the Redis Cluster gave its slot map: " + "; ".join(tried)
        )


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

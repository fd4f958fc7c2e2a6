"""The Redis Cluster slot map, over a fake cluster: whom it asks, and what
it keeps when the nodes it learnt of go away."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from adapters.redis.slot_map import Node, SlotMap


class FakeCluster:
    """Answers CLUSTER SLOTS for the nodes that are up: all slots on `owner`."""

    def __init__(self, up: set[Node], owner: Node, named: list[Node]) -> None:
        self.up, self.owner, self.named = up, owner, named
        self.asked: list[Node] = []

    def __call__(self, node: Node) -> Any:
        self.asked.append(node)
        if node not in self.up:
            raise redis.ConnectionError(f"{node} is gone")
        servers = [
            [host.encode(), port, b"id"] for host, port in [self.owner, *self.named]
        ]
        return [[0, 16383, *servers]]


def test_the_seed_stays_known_when_every_address_it_led_to_changed() -> None:
    """A configuration endpoint (a name) as the seed: after the cluster's
    nodes all moved to new addresses, it still leads to the new map."""
    seed = ("clustercfg.example", 6379)
    old = [("10.0.0.1", 6379), ("10.0.0.2", 6379)]
    cluster = FakeCluster({seed, *old}, owner=old[0], named=old[1:])
    slots = SlotMap(seed, cluster, refresh_seconds=0)
    assert slots.owner(0) == old[0]
    cluster.up = set(old)  # the name fails to resolve once...
    slots.refresh(force=True)  # ...and a node it learnt of answers instead
    new = [("10.0.1.1", 6379), ("10.0.1.2", 6379)]
    cluster.up, cluster.owner, cluster.named = {seed, *new}, new[0], new[1:]
    assert slots.refresh(force=True)[0] == new[0]  # every old address is gone
    assert cluster.asked[-1] == seed


def test_no_node_answering_is_a_connection_error_naming_each() -> None:
    seed = ("127.0.0.1", 7000)
    slots = SlotMap(seed, FakeCluster(set(), owner=seed, named=[]))
    with pytest.raises(redis.ConnectionError, match=r"127\.0\.0\.1:7000"):
        slots.owners()

"""A real Redis Cluster of a test's own: six redis-server processes (three
primaries, three replicas) on free loopback ports, each in a directory of its
own, which a test may kill and start again to see a failover.

What the cluster says about itself (CLUSTER NODES, CLUSTER INFO, ROLE) is the
truth here: after a failover the ports' roles are not the ones they started in.
`python -m tests.support.redis_cluster check|serve` starts one by hand.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support.polling import poll
from tests.support.services import free_port, unavailable

SLOTS = 16384
SHARDS = 3


@dataclass(frozen=True)
class Node:
    """One line of CLUSTER NODES: a node as the node asked sees it."""

    port: int
    node_id: str
    primary: bool
    failed: bool  # FAIL or PFAIL (fail?), or not yet met
    primary_id: str  # "-" for a primary
    connected: bool
    slots: tuple[range, ...]

    @classmethod
    def parse(cls, line: str) -> Node:
        node_id, address, flags, primary_id, _, _, _, link, *slots = line.split()
        ranges: list[range] = []
        for item in slots:
            if not item.startswith("["):  # [slot->-id]: a migration, not ownership
                first, _, last = item.partition("-")
                ranges.append(range(int(first), int(last or first) + 1))
        flag_set = set(flags.split(","))
        return cls(
            port=int(address.split("@")[0].rpartition(":")[2] or 0),
            node_id=node_id,
            primary="master" in flag_set,
            failed=bool(flag_set & {"fail", "fail?", "handshake", "noaddr"}),
            primary_id=primary_id,
            connected=link == "connected",
            slots=tuple(ranges),
        )


@dataclass(frozen=True)
class Promotion:
    """The replica that took over, when (time.monotonic()) that was first seen,
    and when its old primary was killed."""

    port: int
    seen_at: float
    killed_at: float


class RedisCluster:
    """Six cluster nodes on 127.0.0.1: start(), and close() whatever happens."""

    def __init__(self, directory: Path, node_timeout_ms: int = 2000) -> None:
        found = {name: shutil.which(name) for name in ("redis-server", "redis-cli")}
        for name, binary in found.items():
            if binary is None:
                unavailable(name, "not on PATH")
        self._server, self._cli = str(found["redis-server"]), str(found["redis-cli"])
        self._directory = directory
        self._node_timeout_ms = node_timeout_ms
        ports: list[int] = []  # and bus ports: port + 10000 may be past 65535
        while len(ports) < 4 * SHARDS:
            if (port := free_port()) not in ports:
                ports.append(port)
        self.ports = ports[: 2 * SHARDS]
        self._bus = dict(zip(self.ports, ports[2 * SHARDS :], strict=True))
        self._processes: dict[int, subprocess.Popen[bytes] | None]
        self._processes = dict.fromkeys(self.ports)
        self._seed = self.ports[0]
        self._killed: dict[int, tuple[list[int], tuple[range, ...], float]] = {}

    @property
    def seed_url(self) -> str:
        """The primary of slot 0 as start() left it (even once it is killed)."""
        return f"redis://127.0.0.1:{self._seed}/0"

    def client(self, port: int, *, decode: bool = False) -> redis.Redis:
        """A client of one node that does not retry: a dead node answers at once."""
        return redis.Redis(
            host="127.0.0.1",
            port=port,
            socket_timeout=2,
            socket_connect_timeout=2,
            retry=Retry(NoBackoff(), 0),
            decode_responses=decode,
        )

    def start(self) -> None:
        for port in self.ports:
            self._spawn(port)
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        replicas = ["--cluster-replicas", "1", "--cluster-yes"]
        create = subprocess.run(
            [self._cli, "--cluster", "create", *nodes, *replicas],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert create.returncode == 0, f"cluster create failed:\n{create.stdout}"
        poll(self._whole, within=30, every=0.05, what="the cluster to be whole")
        self._seed = self.primary_of_slot(0)

    def primaries(self) -> list[int]:
        """Ports of the primaries that serve slots, as a live node sees them."""
        return sorted(n.port for n in self._nodes() if n.primary and n.slots)

    def replicas(self) -> list[int]:
        return sorted(n.port for n in self._nodes() if not n.primary)

    def primary_of_slot(self, slot: int) -> int:
        for node in self._nodes():
            if node.primary and any(slot in r for r in node.slots):
                return node.port
        raise LookupError(f"no live primary serves slot {slot}")

    def replica_of(self, primary_port: int) -> int:
        nodes = self._nodes()
        (primary,) = [n for n in nodes if n.port == primary_port]
        for node in nodes:
            if node.primary_id == primary.node_id:
                return node.port
        raise LookupError(f"{primary_port} has no live replica")

    def kill(self, port: int) -> float:
        """SIGKILL one node, as a crash would; time.monotonic() once it is gone."""
        process = self._processes[port]
        assert process is not None, f"{port} is not running"
        nodes = self._nodes()
        (node,) = [n for n in nodes if n.port == port]
        replicas = [n.port for n in nodes if n.primary_id == node.node_id]
        process.kill()
        process.wait(timeout=10)
        self._processes[port] = None
        self._killed[port] = (replicas, node.slots, time.monotonic())
        return self._killed[port][2]

    def wait_promoted(self, old_primary_port: int, within: float = 30) -> Promotion:
        """Wait until one replica of the primary kill() killed serves all its slots in
        the eyes of every live node, and each of them says cluster_state:ok."""
        replicas, slots, killed_at = self._killed[old_primary_port]
        assert slots, f"{old_primary_port} served no slots when it was killed"

        def serves(node: Node) -> bool:
            return node.primary and not node.failed and set(slots) <= set(node.slots)

        def promoted() -> int | None:
            owners: set[int] = set()
            for port in [p for p in self.ports if self._processes[p] is not None]:
                if not self._state_ok(port):
                    return None
                owners |= {n.port for n in self._view(port) or [] if serves(n)}
            one = len(owners) == 1 and owners <= set(replicas)
            return owners.pop() if one else None

        port = poll(promoted, within=within, what="a replica to take over")
        return Promotion(port=port, seen_at=time.monotonic(), killed_at=killed_at)

    def restart(self, port: int) -> None:
        """Start a killed node again on its port and nodes.conf; wait until the
        cluster is whole again (a former primary rejoins as a replica)."""
        assert self._processes[port] is None, f"{port} is running"
        self._spawn(port)
        poll(self._whole, within=30, every=0.05, what=f"{port} to rejoin")

    def flush(self) -> None:
        for port in self.primaries():
            with self.client(port) as client:
                client.flushall()

    def keys_per_primary(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for port in self.primaries():
            with self.client(port) as client:
                counts[port] = int(client.dbsize())
        return counts

    def close(self) -> None:
        for port, process in self._processes.items():
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
                self._processes[port] = None

    def _spawn(self, port: int) -> None:
        directory = self._directory / f"node-{port}"
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "redis.log").open("ab") as log:
            process = subprocess.Popen(
                [self._server, "--port", str(port), "--bind", "127.0.0.1",
                 "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                 "--cluster-port", str(self._bus[port]),
                 "--cluster-node-timeout", str(self._node_timeout_ms),
                 # A replica may take over however long its link has been down.
                 "--cluster-replica-validity-factor", "0",
                 # Replicas sync at once, not after 5 s of waiting for others.
                 "--repl-diskless-sync-delay", "0",
                 "--save", "", "--appendonly", "no", "--dir", str(directory)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        self._processes[port] = process

        def pings() -> bool:
            if process.poll() is not None:
                log = (directory / "redis.log").read_text(errors="replace")
                raise AssertionError(f"redis-server on {port} exited:\n{log[-2000:]}")
            return self._ask(port, "PING") is not None

        poll(pings, within=10, what=f"redis-server on {port} to answer")

    def _ask(self, port: int, *command: str) -> object:
        """The node's answer, or None when it gives none (dead, or an error)."""
        try:
            with self.client(port, decode=True) as client:
                answer: object = client.execute_command(*command)
                return answer
        except redis.RedisError:
            return None

    def _view(self, port: int) -> list[Node] | None:
        text = self._ask(port, "CLUSTER", "NODES")
        return [Node.parse(line) for line in str(text).splitlines()] if text else None

    def _state_ok(self, port: int) -> bool:
        info = str(self._ask(port, "CLUSTER", "INFO"))
        return "cluster_state:ok" in info and f"cluster_slots_ok:{SLOTS}" in info

    def _nodes(self) -> list[Node]:
        """The nodes not failed, as the first live node that answers sees them."""
        for port, process in self._processes.items():
            view = self._view(port) if process is not None else None
            if view is not None:
                return [n for n in view if not n.failed]
        raise AssertionError("no node of the cluster answers")

    def _whole(self) -> bool:
        """Every node runs, says all is well, and sees three primaries with all
        the slots, each with one connected replica whose replication is up."""
        for port in self.ports:
            view = self._view(port) if self._processes[port] is not None else None
            if view is None or not self._state_ok(port):
                return False
            ok = [n for n in view if not n.failed and (n.primary or n.connected)]
            primaries = {n.node_id: n for n in ok if n.primary and n.slots}
            paired = sorted(n.primary_id for n in ok if not n.primary)
            served = sum(len(r) for n in primaries.values() for r in n.slots)
            if len(view) != len(ok) or paired != sorted(primaries) or served != SLOTS:
                return False
            role = self._ask(port, "ROLE")
            if isinstance(role, list) and role[0] == "slave" and role[3] != "connected":
                return False
        return True


@contextmanager
def running_cluster(directory: Path) -> Iterator[RedisCluster]:
    """A cluster started in directory, and closed after, whatever happened."""
    cluster = RedisCluster(directory)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


def main(argv: list[str]) -> int:
    """check: prove a cluster starts and serves; serve: keep one until stopped."""
    if argv not in (["check"], ["serve"]):
        sys.exit("usage: python -m tests.support.redis_cluster check|serve")
    with tempfile.TemporaryDirectory(prefix="redis-cluster-") as directory:
        try:
            cluster = RedisCluster(Path(directory))
        except (pytest.skip.Exception, pytest.fail.Exception) as exc:
            sys.exit(str(exc))
        try:
            began = time.monotonic()
            cluster.start()
            print(f"started in {time.monotonic() - began:.1f} s: ports {cluster.ports}")
            print(f"primaries {cluster.primaries()}, replicas {cluster.replicas()}")
            print(f"seed {cluster.seed_url}", flush=True)
            if argv == ["check"]:
                return _check(cluster)
            # Blocked only now: the servers must still heed close()'s SIGTERM.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
            return 0
        finally:
            cluster.close()


def _check(cluster: RedisCluster) -> int:
    """SET through one node, GET through every node, following redirects."""

    def cli(port: int, *command: str) -> str:
        args = [cluster._cli, "-c", "-h", "127.0.0.1", "-p", str(port), *command]
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout

    cli(cluster.ports[0], "SET", "check", "ok")
    for port in cluster.ports:
        got = cli(port, "GET", "check").strip()
        if got != "ok":
            print(f"GET through {port} answered {got!r}", file=sys.stderr)
            return 1
    print("SET through one node, GET through all six with redis-cli -c: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

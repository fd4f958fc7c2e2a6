"""The service on a real Redis Cluster (six redis-server processes, three
primaries and three replicas): gunicorn instances with REDIS_CLUSTER=1 and
REDIS_URL naming one node, and one without it, pointed at the same cluster.

What the cluster must not change: one limit across instances, cached reads
that hit, never a stale read after a write, idempotent replays wherever the
key lands; and the keys spread over every shard."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.redis.cache import RedisCache
from adapters.redis.idempotency import RedisIdempotencyStore
from adapters.redis.lane import Lane, Script
from adapters.redis.limited_read import RedisLimitedRead
from adapters.redis.rate_limiter import RedisRateLimiter
from domain.api_keys import Quota
from domain.ports import StoredResponse
from entrypoints.http.feed_keeper import SWEEP_BOUND_SECONDS
from tests.distributed.support import Instance, serve_pair
from tests.support.http_clients import Http, Reply, ok
from tests.support.redis_clients import service_redis
from tests.support.redis_cluster import RedisCluster
from tests.support.services import empty_database, swept_to_the_end

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

GENEROUS = {
    "RATE_LIMIT_EMPLOYEES": "1000000/minute",
    "RATE_LIMIT_MANAGERS": "1000000/minute",
}


def on_cluster(
    postgres_url: str, directory: Path, cluster: RedisCluster, env: dict[str, str]
) -> Iterator[tuple[Instance, Instance]]:
    """Two instances on one emptied PostgreSQL database and the cluster."""
    on = {
        "REDIS_URL": cluster.seed_url,
        "REDIS_CLUSTER": "1",
        "REDIS_KEY_PREFIX": "ema:",
    }
    yield from serve_pair(postgres_url, directory, {**on, **env})


@pytest.fixture(scope="module")
def generous_pair(
    postgres_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    _session_redis_cluster: RedisCluster,
) -> Iterator[tuple[Instance, Instance]]:
    yield from on_cluster(
        postgres_url, tmp_path_factory.mktemp("generous"), _session_redis_cluster,
        GENEROUS,
    )  # fmt: skip


@pytest.fixture
def a_and_b(
    generous_pair: tuple[Instance, Instance], redis_cluster: RedisCluster
) -> Iterator[tuple[Http, Http]]:
    a, b = (instance.http() for instance in generous_pair)
    yield a, b
    a.close()
    b.close()


def metric(http: Http, name: str, **labels: str) -> float:
    """The sum of a counter's samples whose labels include these."""
    total = 0.0
    for family in text_string_to_metric_families(
        ok(http.get("/metrics")).body.decode()
    ):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def has_limit_headers(reply: Reply) -> bool:
    return "ratelimit-limit" in reply.headers and "ratelimit" in reply.headers


def create(http: Http, tag: str, **extra: Any) -> dict[str, Any]:
    body = {"name": "E", "email": f"{tag}-{uuid.uuid4().hex[:8]}@x.org", **extra}
    created: dict[str, Any] = ok(http.request("POST", "/v1/employees", body), 201).json
    return created


# 1. What each adapter sends: every command's keys in one slot.


class RecordingLane:
    """The cluster lane, noting every command sent through it."""

    def __init__(self, real: Lane) -> None:
        self.real = real
        self.sent: list[tuple[Any, ...]] = []

    def pipeline(self, commands: Any, again: bool = False) -> list[Any]:
        self.sent.extend(tuple(command) for command in commands)
        return self.real.pipeline(commands, again)

    def call(self, *args: Any, again: bool = False) -> Any:
        self.sent.append(args)
        return self.real.call(*args, again=again)

    def script(self, source: str) -> Script:
        self.real.script(source)  # the real lane loads it where it is missing
        return Script(self, source)

    def ping(self) -> None:
        self.real.ping()


def keys_of(command: tuple[Any, ...]) -> list[str]:
    if command[0] == "EVALSHA":
        return [str(key) for key in command[3 : 3 + int(command[2])]]
    if command[0] == "MGET":
        return [str(key) for key in command[1:]]
    return [str(command[1])]


def test_every_command_of_every_operation_keeps_its_keys_in_one_slot(
    redis_cluster: RedisCluster,
) -> None:
    made = service_redis(redis_cluster.seed_url, cluster=True)
    lane = RecordingLane(made.lane)
    cache = RedisCache(lane, made.breaker)
    limiter = RedisRateLimiter(lane, made.breaker)
    both = RedisLimitedRead(lane, made.breaker, limiter, cache)
    store = RedisIdempotencyStore(lane, made.breaker)
    quota = Quota(100, 60)
    for n in range(20):
        item, team = f"employee:{n}", [f"manager:{n}", "employees"]
        _, found = both.hit_and_read(f"employees:ip:10.0.0.{n}", quota, item, [item])
        assert found is not None
        cache.fill(item, b"record", found.stamp)
        _, stamp = cache.read(f"team:{n}?limit=5", team)
        cache.fill(f"team:{n}?limit=5", b"page", stamp)
        cache.invalidate([item, "employees"])
        claim = store.claim(f"client:key-{n}", "fp", 60)
        assert claim.token is not None
        store.complete(
            f"client:key-{n}", claim.token, "fp", StoredResponse(201, b"{}", ()), 60
        )
    node = redis_cluster.client(redis_cluster.primaries()[0])
    multi = [command for command in lane.sent if len(keys_of(command)) > 1]
    assert multi, "no command with several keys was sent; the check proves nothing"
    for command in multi:
        slots = {
            node.execute_command("CLUSTER KEYSLOT", key) for key in keys_of(command)
        }
        assert len(slots) == 1, command
    # A token and the entries it guards share a slot; records spread.
    token, entry = (
        cache.token_key("employee:3"),
        cache.entry_key("employee:3", "employee:3"),
    )
    assert node.execute_command("CLUSTER KEYSLOT", token) == node.execute_command(
        "CLUSTER KEYSLOT", entry
    )
    slots = [
        node.execute_command("CLUSTER KEYSLOT", cache.token_key(f"employee:{n}"))
        for n in range(20)
    ]
    homes = {redis_cluster.primary_of_slot(int(slot)) for slot in slots}
    assert len(homes) == 3, homes
    made.client.close()


# 2. Two instances on the cluster.


@pytest.fixture(scope="module")
def limited_pair(
    postgres_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    _session_redis_cluster: RedisCluster,
) -> Iterator[tuple[Instance, Instance]]:
    yield from on_cluster(
        postgres_url, tmp_path_factory.mktemp("limited"), _session_redis_cluster,
        {"RATE_LIMIT_EMPLOYEES": "5/minute"},
    )  # fmt: skip


def test_a_limit_of_5_a_minute_admits_exactly_5_across_two_instances(
    limited_pair: tuple[Instance, Instance], redis_cluster: RedisCluster
) -> None:
    a, b = (instance.http() for instance in limited_pair)
    replies = [(a, b)[n % 2].get("/v1/employees") for n in range(14)]
    statuses = [reply.status for reply in replies]
    assert statuses == [200] * 5 + [429] * 9, statuses
    assert all(has_limit_headers(reply) for reply in replies)
    a.close()
    b.close()


def test_a_repeated_read_hits_the_cache_on_both_instances(
    a_and_b: tuple[Http, Http], postgres_url: str
) -> None:
    a, b = a_and_b
    records = [create(a, f"hit{n}") for n in range(12)]
    # The sweep invalidates each change once more, within its bound of the
    # write: a read before it passes may miss twice.
    swept_to_the_end(postgres_url, within=SWEEP_BOUND_SECONDS + 10)
    before = [
        metric(h, "cache_requests_total", result=r)
        for h in (a, b)
        for r in ("hit", "miss")
    ]
    for _ in range(10):
        for record in records:
            for http in (a, b):
                assert ok(http.get(f"/v1/employees/{record['id']}")).json == record
    after = [
        metric(h, "cache_requests_total", result=r)
        for h in (a, b)
        for r in ("hit", "miss")
    ]
    hits = (after[0] - before[0]) + (after[2] - before[2])
    misses = (after[1] - before[1]) + (after[3] - before[3])
    ratio = hits / (hits + misses)
    print(
        f"\ncluster cache: {hits:.0f} hits, {misses:.0f} misses, hit ratio {ratio:.3f}"
    )
    assert misses == len(records)  # a's first read of each; b's hit its fill


def test_a_write_through_one_instance_is_never_stale_through_the_other(
    a_and_b: tuple[Http, Http],
) -> None:
    a, b = a_and_b
    manager = ok(
        a.request(
            "POST",
            "/v1/managers",
            {"name": "M", "email": f"m{uuid.uuid4().hex[:6]}@x.org"},
        ),
        201,
    ).json
    records = [create(a, f"fresh{n}") for n in range(6)]
    team = f"/v1/managers/{manager['id']}/employees"
    for n in range(30):
        writer, reader = (a, b) if n % 2 else (b, a)
        record = records[n % len(records)]
        path = f"/v1/employees/{record['id']}"
        for _ in range(2):  # the reader holds the page now
            reader.get(path)
            reader.get(team)
        patched = ok(writer.request("PATCH", path, {"title": f"t{n}"})).json
        assert ok(reader.get(path)).json == patched
        if record.get("manager_id") is None:
            joined = ok(writer.request("PUT", f"{team}/{record['id']}")).json
        else:
            ok(writer.request("DELETE", f"{team}/{record['id']}"), 204)
            joined = ok(writer.get(path)).json
        records[n % len(records)] = joined
        ids = [item["id"] for item in ok(reader.get(team)).json["items"]]
        assert (record["id"] in ids) == (joined["manager_id"] is not None), (n, ids)
        assert ok(reader.get(path)).json == joined


def test_idempotent_replays_work_for_keys_on_every_primary(
    a_and_b: tuple[Http, Http], redis_cluster: RedisCluster
) -> None:
    a, b = a_and_b
    first: dict[str, Reply] = {}
    for n in range(30):
        key = f"idem-{n}-{uuid.uuid4().hex[:6]}"
        body = {"name": "I", "email": f"{key}@x.org"}
        first[key] = ok(
            a.request("POST", "/v1/employees", body, {"Idempotency-Key": key}), 201
        )
        again = ok(
            b.request("POST", "/v1/employees", body, {"Idempotency-Key": key}), 201
        )
        assert again.json == first[key].json
        assert again.headers.get("idempotent-replayed") == "true"
    holding = {
        port: sum(1 for _ in redis_cluster.client(port).scan_iter("ema:idem:*"))
        for port in redis_cluster.primaries()
    }
    print(f"\nidempotency records per primary: {holding}")
    assert sum(holding.values()) == 30
    assert all(count > 0 for count in holding.values()), holding


def test_after_a_mixed_load_the_keys_spread_over_every_primary(
    a_and_b: tuple[Http, Http], redis_cluster: RedisCluster
) -> None:
    a, b = a_and_b
    for n in range(60):
        record = create((a, b)[n % 2], f"mix{n}")
        path = f"/v1/employees/{record['id']}"
        ok(b.get(path))
        ok(a.request("PATCH", path, {"title": "x"}))
        ok(a.get(path))
    ok(a.get("/v1/employees?limit=10"))
    spread = redis_cluster.keys_per_primary()
    print(f"\nkeys per primary after a mixed load: {spread}")
    assert all(count > 0 for count in spread.values()), spread
    assert max(spread.values()) < 2 * min(spread.values()), spread


# 4. Pointed at a cluster without cluster mode: loud, not silent.


def test_without_cluster_mode_a_cluster_is_one_warning_counted_errors_and_degraded(
    postgres_url: str, tmp_path: Path, redis_cluster: RedisCluster
) -> None:
    empty_database(postgres_url)
    instance = Instance(
        {"DATABASE_URL": postgres_url, "REDIS_URL": redis_cluster.seed_url, **GENEROUS},
        tmp_path / "plain.log",
    ).start()
    http = instance.http()
    try:
        for n in range(20):  # records on every shard: most keys are elsewhere
            record = create(http, f"plain{n}")
            assert ok(http.get(f"/v1/employees/{record['id']}")).json == record
        ready = ok(http.get("/health/ready")).json
        errors = sum(
            metric(http, "backend_errors_total", backend="redis", kind=kind)
            for kind in ("moved", "crossslot", "ask")
        )
    finally:
        http.close()
        instance.stop()
    assert ready["checks"]["redis"] == "degraded", ready
    assert "REDIS_CLUSTER=1" in ready["reasons"]["redis"], ready
    assert errors >= 1
    said = [
        line
        for line in instance.log_path.read_text().splitlines()
        if "REDIS_CLUSTER" in line
    ]
    assert len(said) == 1, said
    print(f"\nthe warning: {said[0]}\nreadiness: {ready}\nerrors counted: {errors}")
    assert "WARNING" in said[0] and "Redis Cluster" in said[0], said


def test_the_breakers_probe_writes_to_every_primary(
    redis_cluster: RedisCluster,
) -> None:
    """A full or read-only shard must keep the breaker open: the probe's
    write reaches each primary, not one."""
    made = service_redis(redis_cluster.seed_url, cluster=True)
    keys = made.lane.probe_keys("ema:")
    node = redis_cluster.client(redis_cluster.primaries()[0])
    owners = {
        redis_cluster.primary_of_slot(int(node.execute_command("CLUSTER KEYSLOT", k)))
        for k in keys
    }
    assert len(keys) == 3 and owners == set(redis_cluster.primaries())
    made.client.close()

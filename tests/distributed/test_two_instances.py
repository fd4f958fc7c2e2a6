"""Two gunicorn instances sharing one PostgreSQL database and one Redis.

The limit holds in total across the instances, and a write answered by one
instance is seen at once through the other, even where the other has the old
state cached (each check first makes sure the reader holds a cache entry).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest
import redis

from entrypoints.http.response_cache import employee_key, query_key
from tests.distributed.support import Instance, serve_pair
from tests.support.http_clients import Http, Reply, ok

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

ITERATIONS = 100
RACE_SECONDS = 3.0
LOOK_AT_KEYS = {"REDIS_KEY_PREFIX": "ema:"}  # the tests below read Redis's keys


@pytest.fixture(scope="module")
def cache_pair(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Instance, Instance]]:
    """Two instances with limits too high to matter."""
    yield from serve_pair(
        postgres_url,
        tmp_path_factory.mktemp("cache_pair"),
        {**LOOK_AT_KEYS, "RATE_LIMIT_EMPLOYEES": "1000000/minute",
         "RATE_LIMIT_MANAGERS": "1000000/minute"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def limited_pair(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Instance, Instance]]:
    """Two instances allowing 6 employee and 15 manager requests a minute."""
    yield from serve_pair(
        postgres_url,
        tmp_path_factory.mktemp("limited_pair"),
        {**LOOK_AT_KEYS, "RATE_LIMIT_EMPLOYEES": "6/minute",
         "RATE_LIMIT_MANAGERS": "15/minute"},
    )  # fmt: skip


@pytest.fixture
def a_and_b(
    cache_pair: tuple[Instance, Instance], redis_db: redis.Redis
) -> Iterator[tuple[Http, Http]]:
    connections = (cache_pair[0].http(), cache_pair[1].http())
    yield connections
    for connection in connections:
        connection.close()


# The rate limit is one for all instances.


def test_the_rate_limit_allows_the_configured_number_in_total_across_instances(
    limited_pair: tuple[Instance, Instance], redis_db: redis.Redis
) -> None:
    a, b = limited_pair[0].http(), limited_pair[1].http()
    replies = [(a, b)[i % 2].get("/v1/employees") for i in range(12)]
    assert [r.status for r in replies] == [200] * 6 + [429] * 6
    assert [r.headers["ratelimit-remaining"] for r in replies[:6]] == list("543210")
    assert all(r.headers["ratelimit-limit"] == "6" for r in replies)
    assert all(1 <= int(r.headers["retry-after"]) <= 60 for r in replies[6:])
    # Each instance served three: per-instance limits would have served all 12.
    assert [r.status for r in replies[0:6:2]] == [200] * 3
    assert [r.status for r in replies[1:6:2]] == [200] * 3
    a.close()
    b.close()


@pytest.mark.parametrize("spread", ["one instance", "both instances"])
def test_a_simultaneous_burst_from_one_client_gets_exactly_the_limit_through(
    limited_pair: tuple[Instance, Instance], redis_db: redis.Redis, spread: str
) -> None:
    callers, limit = 40, 15
    targets = limited_pair if spread == "both instances" else limited_pair[:1]
    connections = [targets[i % len(targets)].http() for i in range(callers)]
    for connection in connections:
        connection.connect()
    barrier = threading.Barrier(callers)
    statuses: list[int] = []
    lock = threading.Lock()

    def call(connection: Http) -> None:
        barrier.wait(timeout=10)
        status = connection.get("/v1/managers").status
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=call, args=(c,)) for c in connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for connection in connections:
        connection.close()
    assert len(statuses) == callers
    assert statuses.count(200) == limit
    assert statuses.count(429) == callers - limit


# Read after write across instances.


def cached(db: redis.Redis, key: str) -> bool:
    # An entry is "<prefix>cache:v2:{<its first dependency>}:<key>".
    ending = f"}}:{key}".encode()
    return any(name.endswith(ending) for name in db.scan_iter("ema:cache:v2:*"))


def warm(reader: Http, path: str, db: redis.Redis, key: str) -> Reply:
    """Read twice through the reader; its instance now holds the page."""
    first = ok(reader.get(path))
    second = ok(reader.get(path))
    assert second.body == first.body
    assert cached(db, key), f"{path} was not cached; the check would prove nothing"
    return second


def page_key(prefix: str, path: str, params: dict[str, str]) -> str:
    """The cache key the app uses for a list page (entrypoints.http.response_cache)."""
    return query_key(prefix, path, sorted(params.items()))


def url(path: str, params: dict[str, str]) -> str:
    return path + "?" + "&".join(f"{k}={v}" for k, v in params.items())


def employee(writer: Http, email: str, **more: Any) -> dict[str, Any]:
    body = {"name": "Someone", "email": email, **more}
    created: dict[str, Any] = ok(
        writer.request("POST", "/v1/employees", body), 201
    ).json
    return created


def directions(a: Http, b: Http) -> Iterator[tuple[int, Http, Http]]:
    """(iteration, writer, reader), alternating which instance writes."""
    for i in range(ITERATIONS):
        yield (i, a, b) if i % 2 == 0 else (i, b, a)


def test_an_item_written_through_one_instance_is_read_new_through_the_other(
    a_and_b: tuple[Http, Http], redis_db: redis.Redis
) -> None:
    a, b = a_and_b
    record = employee(a, "item@example.com")
    path = f"/v1/employees/{record['id']}"
    key = employee_key(record["id"])
    for i, writer, reader in directions(a, b):
        warm(reader, path, redis_db, key)
        if i % 2 == 0:
            written = writer.request("PATCH", path, {"title": f"title {i}"})
        else:
            body = {"name": f"name {i}", "email": "item@example.com"}
            written = writer.request("PUT", path, body)
        ok(written, 200)
        read = ok(reader.get(path))
        assert read.json == written.json, f"iteration {i}"
        assert read.headers["etag"] == written.headers["etag"]
    warm(b, path, redis_db, key)
    ok(a.request("DELETE", path), 204)
    assert b.get(path).status == 404


def test_a_list_page_reflects_at_once_a_write_through_the_other_instance(
    a_and_b: tuple[Http, Http], redis_db: redis.Redis
) -> None:
    a, b = a_and_b
    params = {"department": "Lists", "limit": "500"}
    path, key = (
        url("/v1/employees", params),
        page_key("employees", "/v1/employees", params),
    )
    members: dict[int, dict[str, Any]] = {}
    for i, writer, reader in directions(a, b):
        warm(reader, path, redis_db, key)
        if i % 3 == 0 or not members:
            written = employee(writer, f"list{i}@example.com", department="Lists")
            members[written["id"]] = written
        elif i % 3 == 1:
            some = max(members)
            reply = writer.request("PATCH", f"/v1/employees/{some}", {"name": f"n{i}"})
            members[some] = ok(reply).json
        else:
            gone = min(members)
            reply = writer.request(
                "PATCH", f"/v1/employees/{gone}", {"department": "Other"}
            )
            ok(reply)
            del members[gone]
        items = ok(reader.get(path)).json["items"]
        assert items == [members[k] for k in sorted(members)], f"iteration {i}"


def test_a_team_page_reflects_at_once_joins_leaves_and_edits_through_the_other(
    a_and_b: tuple[Http, Http], redis_db: redis.Redis
) -> None:
    a, b = a_and_b
    manager = ok(
        a.request("POST", "/v1/managers", {"name": "M", "email": "team@example.com"}),
        201,
    ).json
    base = f"/v1/managers/{manager['id']}/employees"
    params = {"limit": "500"}
    path, key = url(base, params), page_key("team", base, params)
    outside = [employee(a, f"team{n}@example.com")["id"] for n in range(6)]
    members: dict[int, dict[str, Any]] = {}
    for i, writer, reader in directions(a, b):
        warm(reader, path, redis_db, key)
        step = i % 5
        if not members:
            step = 0
        elif not outside and step in (0, 3):
            step = 2
        if step == 0:  # join
            joining = outside.pop()
            members[joining] = ok(writer.request("PUT", f"{base}/{joining}")).json
        elif step == 1:  # edit a member
            some = min(members)
            reply = writer.request("PATCH", f"/v1/employees/{some}", {"title": f"t{i}"})
            members[some] = ok(reply).json
        elif step == 2:  # leave
            leaving = max(members)
            ok(writer.request("DELETE", f"{base}/{leaving}"), 204)
            del members[leaving]
            outside.append(leaving)
        elif step == 3:  # move in by PATCHing manager_id
            moving = outside.pop()
            body = {"manager_id": manager["id"]}
            members[moving] = ok(
                writer.request("PATCH", f"/v1/employees/{moving}", body)
            ).json
        else:  # move out by PATCHing manager_id to null
            moving = min(members)
            body = {"manager_id": None}
            ok(writer.request("PATCH", f"/v1/employees/{moving}", body))
            del members[moving]
            outside.append(moving)
        items = ok(reader.get(path)).json["items"]
        assert items == [members[k] for k in sorted(members)], f"iteration {i}"
    # A manager without a team can go, and its page goes with it everywhere.
    for member in list(members):
        ok(a.request("DELETE", f"{base}/{member}"), 204)
    warm(b, path, redis_db, key)
    ok(a.request("DELETE", f"/v1/managers/{manager['id']}"), 204)
    assert b.get(path).status == 404


# Concurrent readers and writers on one record: no stale fill survives.


@dataclass
class Race:
    """Writers PATCH one employee; readers check they never see a version older
    than one already answered to a writer (the contract's read-after-write)."""

    record_id: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    answered: int = 0  # the highest version a writer has been answered
    written: dict[int, dict[str, Any]] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    reads: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def write(self, instance: Instance, name: str) -> None:
        connection, n = instance.http(), 0
        while not self.stop.is_set():
            n += 1
            path = f"/v1/employees/{self.record_id}"
            reply = connection.request("PATCH", path, {"name": f"{name} {n}"})
            if reply.status != 200:
                self.failures.append(f"{name}: {reply.status} {reply.body[:200]!r}")
                break
            with self.lock:
                self.answered = max(self.answered, reply.json["version"])
                self.written[reply.json["version"]] = reply.json
        connection.close()

    def read(self, instance: Instance, path: str) -> None:
        connection = instance.http()
        while not self.stop.is_set():
            with self.lock:
                floor = self.answered
            reply = connection.get(path)
            if reply.status != 200:
                self.failures.append(f"{path}: {reply.status}")
                break
            seen = record_in(reply, self.record_id)["version"]
            with self.lock:
                self.reads += 1
                if seen < floor:
                    self.stale.append(f"{path} on {instance.port}: v{seen} < v{floor}")
        connection.close()

    def run(self, jobs: list[Callable[[], None]], seconds: float) -> None:
        threads = [threading.Thread(target=job) for job in jobs]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.failures:
            self.stop.wait(0.05)
        self.stop.set()
        for thread in threads:
            thread.join(timeout=30)


def record_in(reply: Reply, record_id: int) -> dict[str, Any]:
    """The record in an item body, or in a page's items."""
    body = reply.json
    if "items" not in body:
        return dict(body)
    (found,) = [item for item in body["items"] if item["id"] == record_id]
    return dict(found)


def test_after_concurrent_reads_and_writes_every_instance_serves_the_last_write(
    cache_pair: tuple[Instance, Instance], redis_db: redis.Redis
) -> None:
    setup = cache_pair[0].http()
    body = {"name": "R", "email": "race@example.com"}
    manager = ok(setup.request("POST", "/v1/managers", body), 201).json
    record = employee(
        setup, "racer@example.com", department="Race", manager_id=manager["id"]
    )
    setup.close()
    paths = [
        f"/v1/employees/{record['id']}",
        "/v1/employees?department=Race",
        f"/v1/managers/{manager['id']}/employees",
    ]
    race = Race(record["id"])
    a, b = cache_pair
    jobs = [lambda: race.write(a, "a"), lambda: race.write(b, "b")]
    jobs += [
        partial(race.read, instance, path) for instance in (a, b) for path in paths
    ]
    race.run(jobs, RACE_SECONDS)
    assert race.failures == []
    assert race.stale == [], "a read returned a version older than one answered"
    assert race.answered > 10
    assert race.reads > 50
    last = race.written[race.answered]
    for instance in cache_pair:
        connection = instance.http()
        for path in paths:
            for _ in range(3):
                assert record_in(ok(connection.get(path)), record["id"]) == last
        connection.close()

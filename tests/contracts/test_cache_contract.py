"""The Cache port's contract, run against the in-memory and the Redis adapter.

See domain.ports.Cache: entries hang on dependency tokens, invalidate() renews
tokens, and a fill carries the stamp its reader took *before* reading the source,
so a fill that raced a write is never served after that write's invalidation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import redis

from adapters.memory.cache import MemoryCache
from adapters.redis.cache import RedisCache
from adapters.redis.cluster_path import ClusterFastPath
from domain.ports import Cache
from tests.support.clocks import ManualClock
from tests.support.polling import poll
from tests.support.redis_clients import (
    REDIS_KINDS,
    ServiceRedis,
    redis_of_kind,
    service_redis,
)

TTL = 5


@dataclass
class Subject:
    """A cache adapter under test, and how to make its entries outlive their TTL."""

    make: Callable[[int], Cache]  # a cache with this TTL (seconds)
    let_ttl_pass: Callable[[int], None]


@pytest.fixture(params=["memory", *REDIS_KINDS])
def subject(
    request: pytest.FixtureRequest, fake_clock: ManualClock
) -> Iterator[Subject]:
    if request.param == "memory":

        def make_memory(ttl: int) -> Cache:
            return MemoryCache(ttl_seconds=ttl, clock=fake_clock)

        yield Subject(make_memory, fake_clock.advance)
        return
    clients: list[redis.Redis] = []
    made = redis_of_kind(request, request.param)
    clients.append(made.client)

    def make_redis(ttl: int) -> Cache:
        return RedisCache(made.lane, made.breaker, ttl_seconds=ttl)

    def let_ttl_pass(ttl: int) -> None:
        poll(
            lambda: not _entries(made),
            within=ttl + 3,
            what="Redis to expire the cache entries",
        )

    yield Subject(make_redis, let_ttl_pass)
    for client in clients:
        client.close()


@pytest.fixture
def cache(subject: Subject) -> Cache:
    return subject.make(TTL)


def filled(cache: Cache, key: str, deps: list[str], value: bytes) -> None:
    """What a reader does on a miss: take the stamp, read the source, fill."""
    found, stamp = cache.read(key, deps)
    assert found is None
    cache.fill(key, value, stamp)


def test_a_read_before_any_fill_misses_and_hands_out_a_stamp(cache: Cache) -> None:
    value, stamp = cache.read("employee:1", ["employee:1"])
    assert value is None
    assert isinstance(stamp, tuple)
    assert stamp
    assert all(isinstance(token, str) for token in stamp)


def test_a_fill_is_served_to_every_read_with_the_same_dependencies(
    cache: Cache,
) -> None:
    filled(cache, "page:1", ["employees", "manager:3"], b"page one")
    for _ in range(3):
        value, _stamp = cache.read("page:1", ["employees", "manager:3"])
        assert value == b"page one"


@pytest.mark.parametrize("which", ["employees", "manager:3"])
def test_invalidating_any_one_dependency_makes_the_entry_miss(
    cache: Cache, which: str
) -> None:
    filled(cache, "page:1", ["employees", "manager:3"], b"page one")
    cache.invalidate([which])
    value, _stamp = cache.read("page:1", ["employees", "manager:3"])
    assert value is None


def test_invalidating_an_unrelated_dependency_keeps_the_entry(cache: Cache) -> None:
    filled(cache, "employee:1", ["employee:1"], b"ada")
    cache.invalidate(["employee:2", "managers"])
    value, _stamp = cache.read("employee:1", ["employee:1"])
    assert value == b"ada"


def test_a_fill_with_a_stamp_taken_before_an_invalidation_is_never_served(
    cache: Cache,
) -> None:
    # The reader takes its stamp, then reads the old row from the database...
    _value, stamp = cache.read("employee:1", ["employee:1", "employees"])
    # ...a writer commits and invalidates...
    cache.invalidate(["employee:1", "employees"])
    # ...and only then does the reader fill with what it read.
    cache.fill("employee:1", b"old version", stamp)
    for _ in range(3):
        value, _stamp = cache.read("employee:1", ["employee:1", "employees"])
        assert value is None


def test_after_a_stale_fill_the_next_reader_fills_and_is_served(cache: Cache) -> None:
    _value, old_stamp = cache.read("employee:1", ["employee:1"])
    cache.invalidate(["employee:1"])
    cache.fill("employee:1", b"old version", old_stamp)
    filled(cache, "employee:1", ["employee:1"], b"new version")
    value, _stamp = cache.read("employee:1", ["employee:1"])
    assert value == b"new version"


def test_the_stamp_changes_exactly_when_a_dependency_is_invalidated(
    cache: Cache,
) -> None:
    _value, first = cache.read("page:1", ["employees"])
    _value, again = cache.read("page:2", ["employees"])
    assert again == first
    cache.invalidate(["employees"])
    _value, after = cache.read("page:1", ["employees"])
    assert after != first


def test_entries_are_kept_apart_by_key(cache: Cache) -> None:
    filled(cache, "employee:1", ["employee:1"], b"ada")
    filled(cache, "employee:2", ["employee:2"], b"grace")
    assert cache.read("employee:1", ["employee:1"])[0] == b"ada"
    assert cache.read("employee:2", ["employee:2"])[0] == b"grace"
    assert cache.read("employee:3", ["employee:3"])[0] is None


def test_a_later_fill_replaces_the_value(cache: Cache) -> None:
    filled(cache, "employee:1", ["employee:1"], b"first")
    _value, stamp = cache.read("employee:1", ["employee:1"])
    cache.fill("employee:1", b"second", stamp)
    assert cache.read("employee:1", ["employee:1"])[0] == b"second"


@pytest.mark.parametrize("value", [b"", bytes(range(256)) * 4])
def test_empty_and_binary_values_come_back_byte_for_byte(
    cache: Cache, value: bytes
) -> None:
    filled(cache, "blob", ["blob"], value)
    assert cache.read("blob", ["blob"])[0] == value


def test_entries_expire_after_the_ttl(subject: Subject) -> None:
    cache = subject.make(1)
    filled(cache, "employee:1", ["employee:1"], b"ada")
    assert cache.read("employee:1", ["employee:1"])[0] == b"ada"
    subject.let_ttl_pass(1)
    value, _stamp = cache.read("employee:1", ["employee:1"])
    assert value is None


def test_concurrent_first_readers_of_a_dependency_all_get_one_stamp(
    cache: Cache,
) -> None:
    readers = 20
    barrier = threading.Barrier(readers)
    stamps: list[tuple[str, ...]] = []

    def read() -> None:
        barrier.wait(timeout=10)
        stamps.append(cache.read("team:7", ["employees", "manager:7"])[1])

    threads = [threading.Thread(target=read) for _ in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(stamps) == readers
    assert len(set(stamps)) == 1


# Redis only: what one shared Redis adds over a per-process cache.


@pytest.fixture
def two_redis_caches(redis_db: redis.Redis) -> Iterator[tuple[Cache, Cache]]:
    """Two adapters with their own clients and breakers: two app instances."""
    made = [service_redis(), service_redis()]
    clients = [m.client for m in made]
    yield (
        RedisCache(made[0].lane, made[0].breaker, ttl_seconds=TTL),
        RedisCache(made[1].lane, made[1].breaker, ttl_seconds=TTL),
    )
    for client in clients:
        client.close()


def test_instances_sharing_one_redis_share_entries(
    two_redis_caches: tuple[Cache, Cache],
) -> None:
    first, second = two_redis_caches
    filled(first, "employee:1", ["employee:1"], b"ada")
    assert second.read("employee:1", ["employee:1"])[0] == b"ada"


def test_an_invalidation_through_one_instance_reaches_the_other(
    two_redis_caches: tuple[Cache, Cache],
) -> None:
    first, second = two_redis_caches
    filled(first, "employee:1", ["employee:1"], b"ada")
    second.invalidate(["employee:1"])
    assert first.read("employee:1", ["employee:1"])[0] is None


def test_a_stale_fill_through_one_instance_is_not_served_by_the_other(
    two_redis_caches: tuple[Cache, Cache],
) -> None:
    first, second = two_redis_caches
    _value, stamp = first.read("employee:1", ["employee:1"])
    second.invalidate(["employee:1"])
    first.fill("employee:1", b"old version", stamp)
    assert second.read("employee:1", ["employee:1"])[0] is None


def test_redis_entries_are_stored_with_the_configured_ttl(
    redis_db: redis.Redis,
) -> None:
    made = service_redis()
    cache = RedisCache(made.lane, made.breaker, ttl_seconds=60)
    filled(cache, "employee:1", ["employee:1"], b"ada")
    (key,) = redis_db.keys("ema:cache:v2:{*}:*")
    assert 50 <= redis_db.ttl(key) <= 60
    made.client.close()


def test_a_redis_entry_whose_dependency_token_was_evicted_misses(
    two_redis_caches: tuple[Cache, Cache], redis_db: redis.Redis
) -> None:
    cache, _other = two_redis_caches
    filled(cache, "employee:1", ["employee:1"], b"ada")
    # Under memory pressure Redis may evict a token but keep the entry.
    assert redis_db.delete("ema:cache:v2:{employee:1}") == 1
    assert cache.read("employee:1", ["employee:1"])[0] is None


def _entries(made: ServiceRedis) -> list[bytes]:
    """The cache entries (not the tokens) on every node of made's Redis."""
    clients = (
        made.lane.clients() if isinstance(made.lane, ClusterFastPath) else [made.client]
    )
    return [key for c in clients for key in c.keys("ema:cache:v2:{*}:*")]

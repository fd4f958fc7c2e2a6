"""Cache-aside for responses (entrypoints.http.response_cache) over each cache adapter.

The order matters: a reader takes its stamp before building from the database,
and a writer invalidates after committing, whatever the outcome, before answering.
"""

from __future__ import annotations

import pytest
import redis
from falcon import testing

import bootstrap
from adapters.breaker import CircuitBreaker
from adapters.memory.cache import MemoryCache
from adapters.redis.cache import RedisCache
from adapters.redis.client import REDIS_FAILURES
from domain.ports import Cache
from entrypoints.http.metrics import Metrics
from entrypoints.http.response_cache import CachedResponse, ResponseCache
from settings import MEMORY_URL, AuthSettings, RedisSettings, Settings
from tests.support.redis_clients import service_redis
from tests.support.services import (
    RedisServer,
    free_port,
)

DEPS = ["employee:1", "employees"]


@pytest.fixture
def responses(any_cache: Cache) -> ResponseCache:
    return ResponseCache(any_cache, Metrics())


class Source:
    """The database as the response cache sees it: build() renders its state."""

    def __init__(self, state: bytes) -> None:
        self.state = state
        self.builds = 0

    def build(self) -> CachedResponse:
        self.builds += 1
        return CachedResponse(self.state, etag=f'"{self.state.decode()}"')


def test_a_response_is_built_once_and_then_served_with_its_headers(
    responses: ResponseCache,
) -> None:
    source = Source(b"v1")
    first = responses.get("employee:1", DEPS, source.build)
    second = responses.get("employee:1", DEPS, source.build)
    assert second == first == CachedResponse(b"v1", '"v1"')
    assert source.builds == 1


def test_a_response_built_while_a_write_committed_is_not_served_after_it(
    responses: ResponseCache,
) -> None:
    source = Source(b"v1")

    def build_then_a_write_lands() -> CachedResponse:
        built = source.build()  # read v1 from the database...
        source.state = b"v2"  # ...then a writer commits v2...
        with responses.invalidating(["employee:1", "employees"]):
            pass  # ...and invalidates, before our fill
        return built

    assert responses.get("employee:1", DEPS, build_then_a_write_lands).body == b"v1"
    assert responses.get("employee:1", DEPS, source.build).body == b"v2"
    assert source.builds == 2


def test_a_failed_write_still_invalidates_before_the_error_is_answered(
    responses: ResponseCache,
) -> None:
    source = Source(b"v1")
    responses.get("employee:1", DEPS, source.build)
    source.state = b"v2"
    with pytest.raises(RuntimeError), responses.invalidating(["employee:1"]):
        raise RuntimeError("committed, then failed")
    assert responses.get("employee:1", DEPS, source.build).body == b"v2"


def test_without_a_cache_every_read_is_built() -> None:
    responses, source = ResponseCache(None, Metrics()), Source(b"v1")
    for _ in range(3):
        assert responses.get("employee:1", DEPS, source.build).body == b"v1"
    with responses.invalidating(DEPS):
        pass
    assert source.builds == 3


def test_with_the_cache_backend_down_reads_are_built_and_writes_go_through() -> None:
    made = service_redis(f"redis://127.0.0.1:{free_port()}/0")
    stats = Metrics()
    responses = ResponseCache(RedisCache(made.lane, made.breaker), stats)
    source = Source(b"v1")
    for _ in range(3):
        assert responses.get("employee:1", DEPS, source.build).body == b"v1"
    with responses.invalidating(DEPS):
        source.state = b"v2"
    assert responses.get("employee:1", DEPS, source.build).body == b"v2"
    assert source.builds == 4
    assert (stats.get("cache", "hit"), stats.get("cache", "miss")) == (0, 4)
    made.client.close()


def test_a_write_through_one_instance_invalidates_the_other_instances_reads(
    redis_db: redis.Redis,
) -> None:
    made = [service_redis(), service_redis()]
    a, b = (ResponseCache(RedisCache(m.lane, m.breaker), Metrics()) for m in made)
    source = Source(b"v1")
    b.get("employee:1", DEPS, source.build)
    b.get("employee:1", DEPS, source.build)
    with a.invalidating(["employees"]):
        source.state = b"v2"
    assert b.get("employee:1", DEPS, source.build).body == b"v2"
    for m in made:
        m.client.close()


def test_an_entry_this_build_cannot_read_is_a_miss_not_an_error() -> None:
    cache = MemoryCache()
    responses = ResponseCache(cache, Metrics())
    _, stamp = cache.read("employee:1", DEPS)
    cache.fill("employee:1", b"\xc1 not msgpack", stamp)
    rebuilt = responses.get("employee:1", DEPS, lambda: CachedResponse(b"fresh"))
    assert rebuilt.body == b"fresh"


def test_a_redis_command_error_bypasses_the_cache_without_tripping_the_breaker(
    redis_db: object,
) -> None:
    # Trips on the first outage-like failure, so any miscount shows.
    breaker = CircuitBreaker("Redis", REDIS_FAILURES, threshold=1)
    cache = RedisCache(service_redis().lane, breaker, ttl_seconds=0)  # EX 0: refused
    responses = ResponseCache(cache, Metrics())
    for _ in range(10):
        assert responses.get("k", DEPS, lambda: CachedResponse(b"x")).body == b"x"
    assert not breaker.is_open  # the rate limiter shares it and stays on


def test_a_cache_ttl_below_one_second_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="CACHE_TTL_SECONDS"):
        Settings.from_env({"CACHE_TTL_SECONDS": "0"})


def test_a_cached_read_takes_one_round_trip_to_redis(own_redis: RedisServer) -> None:
    """The limiter's decision and the cache's entry travel in one exchange
    (a pipeline Redis reads in one go), not one exchange each."""
    settings = Settings(
        database_url=MEMORY_URL,
        redis=RedisSettings(own_redis.url),
        auth=AuthSettings(disabled=True),
    )
    client = testing.TestClient(bootstrap.bootstrap(settings=settings))
    body = {"name": "Ada", "email": "ada@x.io"}
    path = (
        f"/v1/employees/{client.simulate_post('/v1/employees', json=body).json['id']}"
    )
    assert client.simulate_get(path).status_code == 200  # fills the entry
    stats = own_redis.client()

    def reads() -> int:  # read events Redis has handled, this INFO's included
        return int(stats.info("stats")["total_reads_processed"])

    before = reads()
    cached = client.simulate_get(path)
    assert (cached.status_code, cached.json["name"]) == (200, "Ada")
    assert "RateLimit" in cached.headers
    assert reads() - before == 1 + 1  # the read, and the second INFO
    stats.close()

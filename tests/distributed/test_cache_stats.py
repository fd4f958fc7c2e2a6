"""Cache hits and misses (and rate-limit rejections) are counted where they happen.

bootstrap() builds its own Metrics and takes none, so these tests compose the app
the way bootstrap does (support.compose_app) over a Metrics object they hold.
"""

from __future__ import annotations

import pytest
from falcon import testing

from adapters.memory.cache import MemoryCache
from adapters.memory.rate_limiter import MemoryRateLimiter
from adapters.memory.storage import MemoryStorage
from adapters.redis.cache import RedisCache
from domain.api_keys import Quota
from domain.ports import Cache
from entrypoints.http.metrics import Metrics
from settings import HttpSettings, RateLimitSettings
from tests.distributed.support import (
    HeldBackends,
    compose_app,
)
from tests.support.redis_clients import service_redis
from tests.support.services import (
    free_port,
)

GENEROUS = RateLimitSettings(
    {"employees": Quota(10_000, 60), "managers": Quota(10_000, 60)}
)


@pytest.fixture
def stats() -> Metrics:
    return Metrics()


@pytest.fixture
def client(any_cache: Cache, stats: Metrics) -> testing.TestClient:
    backends = HeldBackends(MemoryRateLimiter(), any_cache, stats)
    app = compose_app(MemoryStorage(), backends, HttpSettings(rate_limits=GENEROUS))
    return testing.TestClient(app)


def counts(stats: Metrics) -> tuple[int, int]:
    return stats.get("cache", "hit"), stats.get("cache", "miss")


def created(client: testing.TestClient, path: str, body: dict[str, object]) -> int:
    resp = client.simulate_post(path, json=body)
    assert resp.status_code == 201, resp.text
    record_id: int = resp.json["id"]
    return record_id


def test_a_first_read_is_a_miss_and_a_second_a_hit(
    client: testing.TestClient, stats: Metrics
) -> None:
    ada = created(client, "/v1/employees", {"name": "Ada", "email": "a@example.com"})
    first = client.simulate_get(f"/v1/employees/{ada}")
    assert counts(stats) == (0, 1)
    second = client.simulate_get(f"/v1/employees/{ada}")
    assert counts(stats) == (1, 1)
    assert second.json == first.json
    assert second.headers["ETag"] == first.headers["ETag"]


def test_a_write_turns_the_next_read_into_a_miss_that_sees_it(
    client: testing.TestClient, stats: Metrics
) -> None:
    ada = created(client, "/v1/employees", {"name": "Ada", "email": "a@example.com"})
    client.simulate_get(f"/v1/employees/{ada}")
    client.simulate_get(f"/v1/employees/{ada}")
    client.simulate_patch(f"/v1/employees/{ada}", json={"title": "Countess"})
    after = client.simulate_get(f"/v1/employees/{ada}")
    assert after.json["title"] == "Countess"
    assert counts(stats) == (1, 2)
    client.simulate_get(f"/v1/employees/{ada}")
    assert counts(stats) == (2, 2)


@pytest.mark.parametrize(
    "path",
    ["/v1/employees?department=R%26D", "/v1/managers", "/v1/managers/1/employees"],
)
def test_list_and_team_pages_are_counted_too(
    client: testing.TestClient, stats: Metrics, path: str
) -> None:
    created(client, "/v1/managers", {"name": "Grace", "email": "g@example.com"})
    for _ in range(3):
        assert client.simulate_get(path).status_code == 200
    assert counts(stats) == (2, 1)


def test_a_304_served_from_the_cache_counts_as_a_hit(
    client: testing.TestClient, stats: Metrics
) -> None:
    ada = created(client, "/v1/employees", {"name": "Ada", "email": "a@example.com"})
    etag = client.simulate_get(f"/v1/employees/{ada}").headers["ETag"]
    resp = client.simulate_get(f"/v1/employees/{ada}", headers={"If-None-Match": etag})
    assert resp.status_code == 304
    assert counts(stats) == (1, 1)


def test_a_missing_record_is_a_miss_every_time_and_never_cached(
    client: testing.TestClient, stats: Metrics
) -> None:
    for _ in range(3):
        assert client.simulate_get("/v1/employees/42").status_code == 404
    assert counts(stats) == (0, 3)


def test_reads_with_the_cache_unreachable_count_as_misses(stats: Metrics) -> None:
    made = service_redis(f"redis://127.0.0.1:{free_port()}/0")
    cache = RedisCache(made.lane, made.breaker)
    backends = HeldBackends(MemoryRateLimiter(), cache, stats)
    app = compose_app(MemoryStorage(), backends, HttpSettings(rate_limits=GENEROUS))
    client = testing.TestClient(app)
    ada = created(client, "/v1/employees", {"name": "Ada", "email": "a@example.com"})
    for _ in range(3):
        assert client.simulate_get(f"/v1/employees/{ada}").status_code == 200
    assert counts(stats) == (0, 3)
    # The create could not invalidate, so reads bypass the cache until its
    # token is renewed; nothing stale can be served meanwhile.
    assert cache.renewal_pending


def test_rate_limit_rejections_are_counted_by_group(stats: Metrics) -> None:
    quotas = RateLimitSettings({"employees": Quota(2, 60), "managers": Quota(1, 60)})
    backends = HeldBackends(MemoryRateLimiter(), MemoryCache(), stats)
    app = compose_app(MemoryStorage(), backends, HttpSettings(rate_limits=quotas))
    client = testing.TestClient(app)
    statuses = [client.simulate_get("/v1/employees").status_code for _ in range(5)]
    statuses += [client.simulate_get("/v1/managers").status_code for _ in range(2)]
    assert statuses == [200, 200, 429, 429, 429, 200, 429]
    assert stats.get("rate_limit_rejections", "employees") == 3
    assert stats.get("rate_limit_rejections", "managers") == 1

"""Error replies that say the Redis deployment is at fault (a full Redis
refusing writes, a replica refusing them) are an outage, not a hiccup of one
call: the breaker opens, the failure is logged once with its name and counted
by kind, readiness says why, and the service recovers by itself once Redis
is fixed. On one node here; on a cluster, tests/distributed/test_redis_cluster.py."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from falcon import testing
from prometheus_client.parser import text_string_to_metric_families

import bootstrap
from adapters.memory.storage import MemoryStorage
from domain.api_keys import Quota
from settings import (
    AuthSettings,
    HttpSettings,
    RateLimitSettings,
    RedisSettings,
    Settings,
)
from tests.support.polling import poll
from tests.support.services import RedisServer

pytestmark = pytest.mark.redis

QUOTAS = RateLimitSettings({"employees": Quota(1000, 60), "managers": Quota(1000, 60)})


def app_on(url: str) -> testing.TestClient:
    settings = Settings(
        redis=RedisSettings(url, breaker_cooldown_seconds=0.2, key_prefix="ema:"),
        http=HttpSettings(rate_limits=QUOTAS),
        auth=AuthSettings(disabled=True),
    )
    return testing.TestClient(
        bootstrap.bootstrap(settings=settings, storage=MemoryStorage())
    )


def errors_of_kind(client: testing.TestClient, kind: str) -> float:
    text = client.simulate_get("/metrics").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "backend_errors_total"
        and sample.labels == {"backend": "redis", "kind": kind}
    )


@pytest.fixture
def other_redis(tmp_path: Path) -> Iterator[RedisServer]:
    (tmp_path / "primary").mkdir()
    server = RedisServer(tmp_path / "primary")
    server.start()
    yield server
    server.close()


Fault = Callable[
    [RedisServer, RedisServer], tuple[Callable[[], None], Callable[[], None]]
]


def full(
    server: RedisServer, other: RedisServer
) -> tuple[Callable[[], None], Callable[[], None]]:
    """Writes refused for want of memory (maxmemory, no eviction), and back."""
    del other
    client = server.client()
    return (
        lambda: client.config_set("maxmemory", 1) and None,
        lambda: client.config_set("maxmemory", 0) and None,
    )


def replica(
    server: RedisServer, other: RedisServer
) -> tuple[Callable[[], None], Callable[[], None]]:
    """Made a replica of other (as a failed-over primary comes back), and back."""
    client = server.client()
    return (
        lambda: client.replicaof("127.0.0.1", other.port) and None,
        lambda: client.replicaof("NO", "ONE") and None,
    )


@pytest.mark.parametrize(
    ("fault", "kind", "reply"),
    [(full, "oom", "OOM"), (replica, "readonly", "READONLY")],
)
def test_a_deployment_error_opens_the_breaker_says_why_and_passes(
    own_redis: RedisServer,
    other_redis: RedisServer,
    caplog: pytest.LogCaptureFixture,
    *,
    fault: Fault,
    kind: str,
    reply: str,
) -> None:
    caplog.set_level(logging.WARNING)
    app = app_on(own_redis.url)
    record = app.simulate_post("/v1/employees", json={"name": "E", "email": "e@x.org"})
    path = f"/v1/employees/{record.json['id']}"
    assert "RateLimit" in app.simulate_get(path).headers
    own_redis.client().flushall()  # nothing for a limiter script to read
    begin, end = fault(own_redis, other_redis)
    begin()
    # Reads still answer (the limiter fails open, the cache is bypassed).
    for _ in range(5):
        assert app.simulate_get(path).status_code == 200
    ready = app.simulate_get("/health/ready").json
    assert ready["checks"]["redis"] == "degraded", ready
    reason = ready["reasons"]["redis"]
    assert reason.startswith(f"{kind}: Redis refuses writes"), ready
    assert "127.0.0.1" not in reason  # readiness needs no key: no addresses
    assert errors_of_kind(app, kind) >= 1
    mine = f"Redis at 127.0.0.1:{own_redis.port} "
    said = [r.getMessage() for r in caplog.records if mine in r.getMessage()]
    assert len(said) == 1 and reply in said[0], said
    end()
    poll(
        lambda: "RateLimit" in app.simulate_get(path).headers,
        within=10,
        what="the limiter to answer again",
    )
    assert app.simulate_get("/health/ready").json["checks"]["redis"] == "ok"
    said = [r.getMessage() for r in caplog.records if mine in r.getMessage()]
    assert len(said) == 2 and "answers again" in said[1], said
    assert errors_of_kind(app, "connection") == 0  # named for what it was


def test_a_script_the_server_lost_is_loaded_again_not_an_outage(
    own_redis: RedisServer,
) -> None:
    app = app_on(own_redis.url)
    assert "RateLimit" in app.simulate_get("/v1/employees").headers
    own_redis.client().script_flush()
    assert "RateLimit" in app.simulate_get("/v1/employees").headers
    assert errors_of_kind(app, "noscript") == 0

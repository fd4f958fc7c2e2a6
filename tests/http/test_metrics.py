"""/metrics through the real app: open without a key, labelled by route template."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from falcon import testing
from prometheus_client.parser import text_string_to_metric_families

import bootstrap
from adapters.memory.storage import MemoryStorage
from domain.api_keys import Quota, Scope
from entrypoints.http.metrics import Metrics
from settings import AuthSettings, RedisSettings
from tests.conftest import UNLIMITED
from tests.support.services import sqlite_url

SECRET = "m" * 40


def samples(client: testing.TestClient, name: str) -> dict[tuple[str, ...], float]:
    resp = client.simulate_get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.values()))] = sample.value
    return found


@pytest.fixture
def keyed() -> tuple[testing.TestClient, dict[str, str]]:
    storage = MemoryStorage()
    settings = dataclasses.replace(UNLIMITED, auth=AuthSettings(secret_key=SECRET))
    app = bootstrap.bootstrap(settings=settings, storage=storage, metrics=Metrics())
    _, token = bootstrap.key_service(settings, storage).create("m", set(Scope), {})
    return testing.TestClient(app), {"Authorization": f"Bearer {token}"}


def test_metrics_need_no_key_and_count_by_route_template(
    keyed: tuple[testing.TestClient, dict[str, str]],
) -> None:
    client, auth = keyed
    client.simulate_post(
        "/v1/managers", json={"name": "G", "email": "g@x.org"}, headers=auth
    )
    for record_id in (1, 2, 3):
        client.simulate_get(f"/v1/managers/{record_id}", headers=auth)
    client.simulate_get("/v1/managers/1")  # no key: 401
    client.simulate_get("/no/such/route")
    counted = samples(client, "http_requests_total")
    item = "/v1/managers/{manager_id}"
    assert counted[tuple(sorted(("GET", "200", item)))] == 1
    assert counted[tuple(sorted(("GET", "404", item)))] == 2
    assert counted[tuple(sorted(("GET", "401", item)))] == 1
    assert counted[tuple(sorted(("POST", "201", "/v1/managers")))] == 1
    assert counted[tuple(sorted(("GET", "404", "(unmatched)")))] == 1
    labels = {value for key in counted for value in key}
    assert not any(
        label.startswith("/v1/managers/1") for label in labels
    )  # no raw paths


def test_reads_are_timed_in_fine_buckets_and_cache_results_counted(
    keyed: tuple[testing.TestClient, dict[str, str]],
) -> None:
    client, auth = keyed
    client.simulate_post(
        "/v1/managers", json={"name": "G", "email": "g@x.org"}, headers=auth
    )
    for _ in range(3):
        client.simulate_get("/v1/managers/1", headers=auth)
    buckets = samples(client, "http_request_duration_seconds_bucket")
    item = ("/v1/managers/{manager_id}", "GET")
    assert buckets[tuple(sorted((*item, "0.0005")))] >= 0  # a sub-millisecond bucket
    assert buckets[tuple(sorted((*item, "+Inf")))] == 3
    cache = samples(client, "cache_requests_total")
    assert (cache[("miss",)], cache[("hit",)]) == (1, 2)


def test_rejections_are_counted_by_group() -> None:
    quotas = {**UNLIMITED.http.rate_limits.quotas, "employees": Quota(1, 60)}
    limits = dataclasses.replace(UNLIMITED.http.rate_limits, quotas=quotas)
    settings = dataclasses.replace(
        UNLIMITED, http=dataclasses.replace(UNLIMITED.http, rate_limits=limits)
    )
    client = testing.TestClient(
        bootstrap.bootstrap(settings=settings, storage=MemoryStorage())
    )
    for _ in range(3):
        client.simulate_get("/v1/employees")
    assert samples(client, "rate_limit_rejections_total") == {
        ("employees",): 2,
        ("managers",): 0,  # there from the start
        ("changes",): 0,
    }


def test_each_request_is_one_log_line_without_its_token(
    keyed: tuple[testing.TestClient, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    client, auth = keyed
    token = auth["Authorization"].split()[1]
    with caplog.at_level(logging.INFO, logger="api.request"):
        client.simulate_get(
            "/v1/employees", headers={**auth, "X-Request-ID": "trace-1"}
        )
        client.simulate_get(
            "/v1/employees", headers={"Authorization": "Bearer " + token[:-1]}
        )
    first, second = (r for r in caplog.records if r.name == "api.request")
    assert first.getMessage().startswith("GET /v1/employees 200 ")
    assert (first.request_id, first.route, first.status) == (
        "trace-1",
        "/v1/employees",
        200,
    )  # type: ignore[attr-defined]
    assert first.client == f"key:{token.split('_')[1]}"  # type: ignore[attr-defined]
    assert second.status == 401 and second.client.startswith("ip:")  # type: ignore[attr-defined]
    assert token not in caplog.text and token[:-1] not in caplog.text


def test_a_dead_redis_shows_as_errors_and_an_open_breaker() -> None:
    redis = RedisSettings("redis://127.0.0.1:1/0", timeout_seconds=0.2)
    settings = dataclasses.replace(UNLIMITED, redis=redis)
    client = testing.TestClient(
        bootstrap.bootstrap(settings=settings, storage=MemoryStorage())
    )
    for _ in range(4):  # the breaker opens after three failures in a row
        assert client.simulate_get("/v1/managers").status_code == 200
    assert samples(client, "backend_errors_total")[("connection", "redis")] >= 3
    assert samples(client, "redis_breaker_open") == {(): 1.0}


@pytest.mark.postgres
def test_the_database_pool_is_reported(
    postgres_url: str, postgres_storage: object
) -> None:
    settings = dataclasses.replace(UNLIMITED, database_url=postgres_url)
    client = testing.TestClient(bootstrap.bootstrap(settings=settings))
    assert client.simulate_get("/v1/managers").status_code == 200
    pool = samples(client, "db_pool_connections")
    assert pool == {("idle",): 1.0, ("in_use",): 0.0}


def test_with_the_response_cache_off_every_read_goes_to_the_store() -> None:
    settings = dataclasses.replace(UNLIMITED, response_cache=False)
    client = testing.TestClient(
        bootstrap.bootstrap(settings=settings, storage=MemoryStorage())
    )
    created = client.simulate_post(
        "/v1/managers", json={"name": "G", "email": "g@x.org"}
    )
    for _ in range(3):
        assert client.simulate_get(created.headers["Location"]).status_code == 200
    client.simulate_patch(created.headers["Location"], json={"department": "Ops"})
    assert client.simulate_get(created.headers["Location"]).json["department"] == "Ops"
    assert samples(client, "cache_requests_total") == {("hit",): 0, ("miss",): 0}


def test_every_known_counter_is_at_zero_from_the_start(tmp_path: Path) -> None:
    """Right after start, before any request: a dashboard or an alert on
    rejections or backend errors reads 0, not "no data"."""
    redis = RedisSettings("redis://127.0.0.1:1/0", timeout_seconds=0.2)
    database = sqlite_url(tmp_path / "metrics.sqlite3")
    settings = dataclasses.replace(UNLIMITED, redis=redis, database_url=database)
    client = testing.TestClient(bootstrap.bootstrap(settings=settings))
    text = client.simulate_get("/metrics").text
    found = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }

    def value(name: str, **labels: str) -> float | None:
        return found.get((name, tuple(sorted(labels.items()))))

    for group in ("employees", "managers"):
        assert value("rate_limit_rejections_total", group=group) == 0
    for result in ("hit", "miss"):
        assert value("cache_requests_total", result=result) == 0
    for kind in ("timeout", "connection", "readonly", "schema"):
        assert value("backend_errors_total", backend="database", kind=kind) == 0
    for kind in ("timeout", "connection", "auth", "moved", "oom", "readonly"):
        assert value("backend_errors_total", backend="redis", kind=kind) == 0

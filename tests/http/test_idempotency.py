"""Idempotency-Key on both POSTs, as the contract says, through the real app.

Most tests run with auth off (a client is its address); the scoping tests
turn auth on, since there a client is its API key.
"""

from __future__ import annotations

import dataclasses
import json
from urllib.parse import urlsplit

import pytest
from falcon import testing

import bootstrap
from adapters.memory.rate_limiter import MemoryRateLimiter
from adapters.memory.storage import MemoryStorage
from domain.api_keys import Quota, Scope
from settings import AuthSettings, RateLimitSettings, RedisSettings
from tests.conftest import UNLIMITED, make_client
from tests.http.support import assert_problem
from tests.support.clocks import ManualClock
from tests.support.tcp_proxy import TcpProxy

ADA = {"name": "Ada", "email": "ada@example.com", "title": "Engineer"}
SECRET = "i" * 40


def post(
    client: testing.TestClient,
    key: str | None,
    body: object = ADA,
    path: str = "/v1/employees",
    **headers: str,
) -> testing.Result:
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.simulate_post(
        path,
        body=json.dumps(body),
        headers={"Content-Type": "application/json", **headers},
    )


def count(client: testing.TestClient) -> int:
    return len(client.simulate_get("/v1/employees").json["items"])


def test_a_retry_gets_the_first_answer_again_and_creates_nothing(
    client: testing.TestClient,
) -> None:
    first = post(client, "order-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    # Equal JSON after parsing: key order and spacing do not matter.
    reordered = {"title": "Engineer", "email": "ada@example.com", "name": "Ada"}
    again = post(client, "order-1", reordered)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    for header in ("Location", "ETag", "Content-Type"):
        assert again.headers[header] == first.headers[header]
    assert count(client) == 1


def test_the_same_key_with_another_body_is_422_and_changes_nothing(
    client: testing.TestClient,
) -> None:
    post(client, "order-1")
    other = post(client, "order-1", {**ADA, "title": "Lead"})
    assert_problem(other, 422, fields={"Idempotency-Key"})
    assert count(client) == 1
    fresh = post(client, "order-2", {**ADA, "email": "ada2@example.com"})
    assert fresh.status_code == 201


def test_a_key_belongs_to_one_endpoint(client: testing.TestClient) -> None:
    assert post(client, "same").status_code == 201
    manager = post(
        client, "same", {"name": "Grace", "email": "g@example.com"}, "/v1/managers"
    )
    assert manager.status_code == 201
    assert "Idempotent-Replayed" not in manager.headers


def test_an_error_answer_is_replayed_too(client: testing.TestClient) -> None:
    post(client, None)
    duplicate = post(client, "dup")
    assert_problem(duplicate, 409)
    again = post(client, "dup")
    assert again.status_code == 409
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == duplicate.content


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
def test_a_malformed_key_is_400_and_changes_nothing(
    client: testing.TestClient, key: str
) -> None:
    assert_problem(post(client, key), 400)
    assert count(client) == 0


def test_the_longest_key_is_accepted(client: testing.TestClient) -> None:
    assert post(client, "k" * 255).status_code == 201
    assert post(client, "k" * 255).headers["Idempotent-Replayed"] == "true"


def test_keys_are_scoped_per_api_key() -> None:
    storage = MemoryStorage()
    settings = dataclasses.replace(UNLIMITED, auth=AuthSettings(secret_key=SECRET))
    client = make_client(storage, settings=settings)
    keys = bootstrap.key_service(settings, storage)
    first = {"Authorization": f"Bearer {keys.create('a', {Scope.WRITE}, {})[1]}"}
    second = {"Authorization": f"Bearer {keys.create('b', {Scope.WRITE}, {})[1]}"}
    assert post(client, "shared", **first).status_code == 201
    replay = post(client, "shared", **first)
    assert replay.headers["Idempotent-Replayed"] == "true"
    # Another client with the same key and body runs afresh: the email is taken.
    other = post(client, "shared", **second)
    assert_problem(other, 409)
    assert "Idempotent-Replayed" not in other.headers


def test_a_429_is_not_stored() -> None:
    clock = ManualClock()
    limits = RateLimitSettings({"employees": Quota(1, 60), "managers": Quota(1, 60)})
    settings = dataclasses.replace(
        UNLIMITED, http=dataclasses.replace(UNLIMITED.http, rate_limits=limits)
    )
    client = make_client(
        MemoryStorage(), settings=settings, limiter=MemoryRateLimiter(clock)
    )
    assert client.simulate_get("/v1/employees").status_code == 200
    assert post(client, "later").status_code == 429
    clock.advance(61)
    retried = post(client, "later")
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers


@pytest.mark.postgres
def test_a_5xx_is_not_stored_and_the_retry_runs_afresh(
    proxy: TcpProxy, postgres_url: str, postgres_storage: object
) -> None:
    through_proxy = urlsplit(postgres_url)._replace(
        netloc=f"postgres@127.0.0.1:{proxy.port}"
    )
    settings = dataclasses.replace(UNLIMITED, database_url=through_proxy.geturl())
    client = testing.TestClient(bootstrap.bootstrap(settings=settings))
    proxy.cut()
    assert_problem(post(client, "during-outage"), 503)
    proxy.start()
    statuses = [post(client, "during-outage").status_code for _ in range(2)]
    assert statuses in ([201, 201], [503, 201])  # one stale pooled connection at most
    final = post(client, "during-outage")
    assert final.headers["Idempotent-Replayed"] == "true"
    assert count(client) == 1


def test_without_its_store_a_keyed_post_is_503_and_creates_nothing() -> None:
    settings = dataclasses.replace(
        UNLIMITED, redis=RedisSettings("redis://127.0.0.1:1/0", timeout_seconds=0.2)
    )
    client = make_client(MemoryStorage(), settings=settings)
    resp = post(client, "k")
    assert_problem(resp, 503)
    assert int(resp.headers["Retry-After"]) >= 1
    assert count(client) == 0
    assert post(client, None).status_code == 201  # without a key: served as usual


def test_with_auth_off_keys_belong_to_each_address_not_its_ipv6_block(
    client: testing.TestClient,
) -> None:
    """Two hosts in one /64 share a rate-limit bucket, never their answers."""
    first = {"remote_addr": "2001:db8::1"}
    second = {"remote_addr": "2001:db8::2"}
    created = client.simulate_post(
        "/v1/employees", json=ADA, headers={"Idempotency-Key": "1"}, **first
    )
    assert created.status_code == 201
    other = client.simulate_post(
        "/v1/employees", json=ADA, headers={"Idempotency-Key": "1"}, **second
    )
    assert other.status_code == 409  # ran afresh: the email is taken
    assert "Idempotent-Replayed" not in other.headers

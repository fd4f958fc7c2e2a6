"""Rate limiting as clients see it: headers, 429s, groups and who the client is.

The app is built by bootstrap from environment-style settings, over in-memory
storage, with the in-memory limiter or (where parametrised) the Redis one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import pytest
from falcon import testing

import bootstrap
from adapters.memory.rate_limiter import MemoryRateLimiter
from settings import MEMORY_URL, Settings
from tests.support import services
from tests.support.clocks import ManualClock

EMPLOYEES_LIMIT = 3
MANAGERS_LIMIT = 5
ENV = {
    "DATABASE_URL": MEMORY_URL,
    "AUTH_DISABLED": "1",
    "RATE_LIMIT_EMPLOYEES": f"{EMPLOYEES_LIMIT}/minute",
    "RATE_LIMIT_MANAGERS": f"{MANAGERS_LIMIT}/minute",
}
PEER = "203.0.113.9"

MakeClient = Callable[..., testing.TestClient]


@pytest.fixture(params=["memory limiter", "redis limiter"])
def make_client(request: pytest.FixtureRequest, fake_clock: ManualClock) -> MakeClient:
    """A factory of apps configured like production, from environment variables.

    The memory limiter runs on a clock that stands still at a whole second (see
    the rate-limiter contract for what a fractional monotonic clock does).
    """
    env = dict(ENV)
    if request.param == "redis limiter":
        request.getfixturevalue("redis_db")
        env["REDIS_URL"] = services.REDIS_URL

    def make(**more: str) -> testing.TestClient:
        settings = Settings.from_env({**env, **more})
        limiter = None
        if request.param == "memory limiter":
            limiter = MemoryRateLimiter(clock=fake_clock)
        return testing.TestClient(
            bootstrap.bootstrap(settings=settings, limiter=limiter)
        )

    return make


@pytest.fixture
def client(make_client: MakeClient) -> testing.TestClient:
    return make_client()


def send(
    client: testing.TestClient,
    method: str,
    path: str,
    *,
    peer: str = PEER,
    forwarded: str | None = None,
    **kwargs: Any,
) -> testing.Result:
    headers = dict(kwargs.pop("headers", {}))
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    return client.simulate_request(
        method, path, remote_addr=peer, headers=headers, **kwargs
    )


def limit_headers(resp: testing.Result) -> dict[str, str]:
    return {
        k.lower(): v
        for k, v in resp.headers.items()
        if k.lower().startswith("ratelimit")
    }


def assert_limit_headers(
    resp: testing.Result, group: str, limit: int, remaining: int
) -> None:
    headers = limit_headers(resp)
    for name in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"):
        assert re.fullmatch(r"\d+", headers.get(name, "")), (name, headers)
    assert int(headers["ratelimit-limit"]) == limit
    assert int(headers["ratelimit-remaining"]) == remaining
    reset = int(headers["ratelimit-reset"])
    assert 1 <= reset <= 60
    assert headers["ratelimit-policy"] == f'"{group}";q={limit};w=60'
    assert headers["ratelimit"] == f'"{group}";r={remaining};t={reset}'


def assert_too_many_requests(resp: testing.Result, group: str, limit: int) -> None:
    assert resp.status_code == 429
    assert re.fullmatch(r"\d+", resp.headers.get("Retry-After", ""))
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert resp.json["status"] == 429
    assert resp.json["title"] == "Too Many Requests"
    assert resp.json["type"] == "about:blank"
    assert_limit_headers(resp, group, limit, 0)


EMPLOYEE = {"name": "Ada", "email": "ada@example.com"}


class Case(NamedTuple):
    method: str
    path: str
    kwargs: Mapping[str, Any]
    status: int
    group: str


GROUP_REQUESTS = [
    Case("GET", "/v1/employees", {}, 200, "employees"),
    Case("POST", "/v1/employees", {"json": EMPLOYEE}, 201, "employees"),
    Case("POST", "/v1/employees", {"json": {"name": ""}}, 422, "employees"),
    Case("POST", "/v1/employees", {"body": "{not json"}, 400, "employees"),
    Case("GET", "/v1/employees", {"params": {"limit": "0"}}, 422, "employees"),
    Case("GET", "/v1/employees/999", {}, 404, "employees"),
    Case("GET", "/v1/employees/abc", {}, 404, "employees"),
    Case("DELETE", "/v1/employees", {}, 405, "employees"),
    Case("GET", "/v1/managers", {}, 200, "managers"),
    Case("PATCH", "/v1/managers/999", {"json": {}}, 404, "managers"),
    Case("GET", "/v1/managers/999/employees", {}, 404, "managers"),
    Case("PUT", "/v1/managers/9/employees/9", {}, 404, "managers"),
]


@pytest.mark.parametrize(
    "case",
    GROUP_REQUESTS,
    ids=[f"{c.method} {c.path} {c.status}" for c in GROUP_REQUESTS],
)
def test_every_response_under_a_group_path_carries_the_rate_limit_headers(
    client: testing.TestClient, case: Case
) -> None:
    resp = send(client, case.method, case.path, **case.kwargs)
    assert resp.status_code == case.status, resp.text
    limit = EMPLOYEES_LIMIT if case.group == "employees" else MANAGERS_LIMIT
    assert_limit_headers(resp, case.group, limit, limit - 1)


def test_successes_and_errors_alike_count_against_the_quota(
    client: testing.TestClient,
) -> None:
    statuses, remaining = [], []
    for path in ("/v1/employees/abc", "/v1/employees", "/v1/employees/7"):
        resp = send(client, "GET", path)
        statuses.append(resp.status_code)
        remaining.append(int(resp.headers["RateLimit-Remaining"]))
    assert statuses == [404, 200, 404]
    assert remaining == [2, 1, 0]


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/v1/nothing"])
def test_paths_outside_the_groups_are_neither_limited_nor_labelled(
    client: testing.TestClient, path: str
) -> None:
    for _ in range(EMPLOYEES_LIMIT + MANAGERS_LIMIT + 1):
        resp = send(client, "GET", path)
        assert resp.status_code != 429
        assert limit_headers(resp) == {}
    assert send(client, "GET", "/v1/employees").headers["RateLimit-Remaining"] == "2"


def test_the_request_over_the_limit_is_429_with_retry_after_and_a_problem_body(
    client: testing.TestClient,
) -> None:
    for _ in range(EMPLOYEES_LIMIT):
        assert send(client, "GET", "/v1/employees").status_code == 200
    for path in ("/v1/employees", "/v1/employees/1", "/v1/employees/abc"):
        assert_too_many_requests(send(client, "GET", path), "employees", 3)


def test_a_rejected_write_changes_nothing(client: testing.TestClient) -> None:
    for _ in range(EMPLOYEES_LIMIT):
        send(client, "GET", "/v1/employees")
    rejected = send(client, "POST", "/v1/employees", json=EMPLOYEE)
    assert_too_many_requests(rejected, "employees", EMPLOYEES_LIMIT)
    listed = send(client, "GET", "/v1/employees", peer="203.0.113.200")
    assert listed.status_code == 200
    assert listed.json["items"] == []


def test_the_groups_are_limited_separately_and_teams_count_as_managers(
    client: testing.TestClient,
) -> None:
    for _ in range(EMPLOYEES_LIMIT):
        send(client, "GET", "/v1/employees")
    assert send(client, "GET", "/v1/employees").status_code == 429
    remaining = []
    for path in ("/v1/managers", "/v1/managers/1/employees", "/v1/managers/1"):
        resp = send(client, "GET", path)
        assert resp.status_code != 429
        remaining.append(int(resp.headers["RateLimit-Remaining"]))
    assert remaining == [4, 3, 2]


def test_each_client_address_has_its_own_quota(client: testing.TestClient) -> None:
    for _ in range(EMPLOYEES_LIMIT):
        send(client, "GET", "/v1/employees")
    assert send(client, "GET", "/v1/employees").status_code == 429
    other = send(client, "GET", "/v1/employees", peer="203.0.113.10")
    assert other.status_code == 200
    assert other.headers["RateLimit-Remaining"] == "2"


def test_forging_x_forwarded_for_through_an_untrusted_peer_earns_no_fresh_quota(
    make_client: MakeClient,
) -> None:
    client = make_client(TRUSTED_PROXIES="10.0.0.0/8")
    statuses = [
        send(client, "GET", "/v1/employees", forwarded=f"198.51.100.{i}").status_code
        for i in range(EMPLOYEES_LIMIT + 3)
    ]
    assert statuses == [200] * EMPLOYEES_LIMIT + [429] * 3
    # The forged addresses were never charged: as real peers, their quota is whole.
    fresh = send(client, "GET", "/v1/employees", peer="198.51.100.0")
    assert fresh.headers["RateLimit-Remaining"] == "2"


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_quota(
    make_client: MakeClient,
) -> None:
    client = make_client(TRUSTED_PROXIES="10.0.0.0/8")

    def via_proxy(forwarded: str) -> testing.Result:
        return send(
            client, "GET", "/v1/employees", peer="10.0.0.1", forwarded=forwarded
        )

    for _ in range(EMPLOYEES_LIMIT):
        assert via_proxy("203.0.113.50").status_code == 200
    assert via_proxy("203.0.113.50").status_code == 429
    # Prepending another address does not help: the proxy appended the real one.
    assert via_proxy("198.51.100.77, 203.0.113.50").status_code == 429
    assert via_proxy("203.0.113.51").headers["RateLimit-Remaining"] == "2"
    # The proxy's own address is not charged for the clients behind it.
    own = send(client, "GET", "/v1/employees", peer="10.0.0.1")
    assert own.headers["RateLimit-Remaining"] == "2"

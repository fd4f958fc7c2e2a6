"""No spelling of a path reaches a resource unlimited or unauthenticated.

The router ignores leading slashes and the server decodes %2F, so //v1/...
and /%2Fv1/... reach the same resources as /v1/...; limits and auth follow
the route that matched, so they count and refuse there too. Whatever matches
no route is 404, and under a group's prefix it is counted as well.
"""

from __future__ import annotations

import dataclasses

import pytest
from falcon import testing

from adapters.memory.storage import MemoryStorage
from domain.api_keys import Quota
from settings import AuthSettings, RateLimitSettings
from tests.conftest import UNLIMITED, make_client

LIMIT = 2
SPELLINGS = [
    ("//v1/employees", "employees"),
    ("///v1/employees", "employees"),
    ("//v1/employees/1", "employees"),
    ("//v1/managers", "managers"),
    ("//v1/managers/1/employees", "managers"),
    ("/v1//employees", "employees"),
    ("/v1/employees//1", "employees"),
    ("/v1/employees/", "employees"),
    ("/v1/employees/1/", "employees"),
    ("//v1//managers//1//employees", "managers"),
    ("/v1/employees%2F1", "employees"),
    ("/v1/%2Femployees", "employees"),
    ("/%2Fv1/employees", "employees"),
    ("/%2F%2Fv1/managers", "managers"),
]


def limited_client(**auth: object) -> testing.TestClient:
    quota = Quota(LIMIT, 60)
    http = dataclasses.replace(
        UNLIMITED.http,
        rate_limits=RateLimitSettings({"employees": quota, "managers": quota}),
    )
    settings = dataclasses.replace(UNLIMITED, http=http, auth=AuthSettings(**auth))  # type: ignore[arg-type]
    return make_client(MemoryStorage(), settings=settings)


@pytest.mark.parametrize(("path", "group"), SPELLINGS)
def test_every_spelling_is_limited_in_its_group_or_is_404(
    path: str, group: str
) -> None:
    client = limited_client(disabled=True)
    replies = [client.simulate_get(path) for _ in range(LIMIT + 1)]
    statuses = [r.status_code for r in replies]
    assert all(s in (200, 404) for s in statuses[:LIMIT]), statuses
    assert statuses[LIMIT] == 429, statuses
    for reply in replies:
        assert reply.headers["RateLimit-Policy"] == f'"{group}";q={LIMIT};w=60'


def test_posts_through_a_double_slash_are_limited_and_counted_with_the_rest() -> None:
    client = limited_client(disabled=True)
    body = {"name": "E", "email": "e@x.org"}
    first = client.simulate_post("/v1/employees", json=body)
    assert first.status_code == 201
    second = client.simulate_post("//v1/employees", json={**body, "email": "f@x.org"})
    assert second.status_code == 201  # the same resource, the same bucket
    third = client.simulate_post("///v1/employees", json={**body, "email": "g@x.org"})
    assert third.status_code == 429


@pytest.mark.parametrize(("path", "group"), SPELLINGS)
def test_every_spelling_that_routes_needs_a_key(path: str, group: str) -> None:
    client = limited_client(secret_key="p" * 40)
    status = client.simulate_get(path).status_code
    assert status in (401, 404)
    if status == 404:  # matched no route: the same answer with or without a key
        assert client.simulate_get(path.replace("//", "/")).status_code in (401, 404)


@pytest.mark.parametrize("path", ["//health/live", "/health//ready", "/nowhere"])
def test_paths_outside_the_groups_are_not_limited(path: str) -> None:
    client = limited_client(disabled=True)
    for _ in range(LIMIT + 1):
        assert "RateLimit-Limit" not in client.simulate_get(path).headers

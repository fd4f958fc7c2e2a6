"""API keys at the HTTP edge: every route needs one, with the method's scope.

The app is built by bootstrap with auth on, over in-memory storage; keys are
made with the same service the command line uses, on the same storage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from falcon import testing

import bootstrap
from adapters.memory.storage import MemoryStorage
from domain.api_keys import Quota, Scope
from domain.services import ApiKeyService
from settings import AuthSettings, HttpSettings, RateLimitSettings, Settings
from tests.http.support import assert_problem

SECRET = "k" * 40
PLENTY = Quota(1000, 60)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    body: dict[str, object] | None = None

    @property
    def writes(self) -> bool:
        return self.method not in ("GET", "HEAD")


ROUTES = [
    Route("GET", "/v1/employees"),
    Route("HEAD", "/v1/employees"),
    Route("POST", "/v1/employees", {"name": "E", "email": "e@x.org"}),
    Route("GET", "/v1/employees/1"),
    Route("HEAD", "/v1/employees/1"),
    Route("PUT", "/v1/employees/1", {"name": "E", "email": "e@x.org"}),
    Route("PATCH", "/v1/employees/1", {"title": "T"}),
    Route("DELETE", "/v1/employees/1"),
    Route("GET", "/v1/managers"),
    Route("POST", "/v1/managers", {"name": "M", "email": "m@x.org"}),
    Route("GET", "/v1/managers/1"),
    Route("PUT", "/v1/managers/1", {"name": "M", "email": "m@x.org"}),
    Route("PATCH", "/v1/managers/1", {"department": "D"}),
    Route("DELETE", "/v1/managers/1"),
    Route("GET", "/v1/managers/1/employees"),
    Route("HEAD", "/v1/managers/1/employees"),
    Route("PUT", "/v1/managers/1/employees/1"),
    Route("DELETE", "/v1/managers/1/employees/1"),
    Route("GET", "/v1/changes"),
    Route("HEAD", "/v1/changes"),
    Route("GET", "/v1/changes/head"),
]
EXEMPT = ["/health/live", "/health/ready"]


@dataclass
class Edge:
    client: testing.TestClient
    keys: ApiKeyService

    def token(self, scopes: set[Scope], **quotas: Quota) -> str:
        _, token = self.keys.create(f"key-{len(self.keys.list())}", scopes, quotas)
        return token

    def send(self, route: Route, token: str | None = None) -> testing.Result:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return self.client.simulate_request(
            route.method, route.path, json=route.body, headers=headers
        )


MakeEdge = Callable[..., Edge]


@pytest.fixture
def make_edge() -> MakeEdge:
    def make(quota: Quota = PLENTY, cache_seconds: float = 0.0) -> Edge:
        storage = MemoryStorage()
        settings = Settings(
            database_url="memory://",
            auth=AuthSettings(secret_key=SECRET, cache_seconds=cache_seconds),
            http=HttpSettings(
                rate_limits=RateLimitSettings({"employees": quota, "managers": quota})
            ),
        )
        app = bootstrap.bootstrap(settings=settings, storage=storage)
        return Edge(testing.TestClient(app), bootstrap.key_service(settings, storage))

    return make


@pytest.fixture
def edge(make_edge: MakeEdge) -> Edge:
    return make_edge()


def assert_unauthorized(
    resp: testing.Result, error: str | None, method: str = "GET"
) -> None:
    assert resp.status_code == 401, resp.text
    challenge = resp.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert (f'error="{error}"' in challenge) if error else ("error=" not in challenge)
    assert "RateLimit-Remaining" in resp.headers  # limited by its address
    if method != "HEAD":  # HEAD answers carry no body
        assert_problem(resp, 401)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_route_refuses_a_request_without_a_key(edge: Edge, route: Route) -> None:
    assert_unauthorized(edge.send(route), None, route.method)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_route_refuses_an_unknown_or_revoked_key(
    edge: Edge, route: Route
) -> None:
    unknown = "ema_00000000_" + "A" * 43
    assert_unauthorized(edge.send(route, unknown), "invalid_token", route.method)
    token = edge.token({Scope.READ, Scope.WRITE})
    edge.keys.revoke(token.split("_")[1])
    assert_unauthorized(edge.send(route, token), "invalid_token", route.method)


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "ema_x"]
)
def test_a_malformed_authorization_header_is_401(edge: Edge, header: str) -> None:
    resp = edge.client.simulate_get("/v1/employees", headers={"Authorization": header})
    assert_unauthorized(resp, "invalid_request")


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.writes], ids=lambda r: f"{r.method} {r.path}"
)
def test_a_read_key_is_forbidden_every_write(edge: Edge, route: Route) -> None:
    resp = edge.send(route, edge.token({Scope.READ}))
    assert_problem(resp, 403)
    assert "write" in resp.json["detail"]


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if not r.writes], ids=lambda r: f"{r.method} {r.path}"
)
def test_reads_need_the_read_scope(edge: Edge, route: Route) -> None:
    assert edge.send(route, edge.token({Scope.WRITE})).status_code == 403
    assert edge.send(route, edge.token({Scope.READ})).status_code in (200, 404)


def test_a_key_with_both_scopes_does_everything(edge: Edge) -> None:
    token = edge.token({Scope.READ, Scope.WRITE})
    statuses = [edge.send(route, token).status_code for route in ROUTES]
    assert 401 not in statuses and 403 not in statuses
    assert statuses[2] == 201  # the employee was created


@pytest.mark.parametrize("path", EXEMPT)
def test_health_needs_no_key(edge: Edge, path: str) -> None:
    resp = edge.client.simulate_get(path)
    assert resp.status_code == 200
    assert "Cache-Control" not in resp.headers


def test_every_response_says_nosniff_and_keyed_ones_no_store(edge: Edge) -> None:
    token = edge.token({Scope.READ})
    for resp in (
        edge.client.simulate_get("/health/live"),
        edge.client.simulate_get("/v1/employees"),
        edge.client.simulate_get(
            "/v1/employees", headers={"Authorization": f"Bearer {token}"}
        ),
        edge.client.simulate_get("/nowhere"),
    ):
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    keyed = edge.client.simulate_get(
        "/v1/employees", headers={"Authorization": f"Bearer {token}"}
    )
    assert keyed.headers["Cache-Control"] == "no-store"


def test_refused_requests_count_against_their_address(make_edge: MakeEdge) -> None:
    edge = make_edge(quota=Quota(3, 60))
    statuses = [edge.send(ROUTES[0]).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    # A key is a client of its own: its quota is untouched by the address's.
    assert edge.send(ROUTES[0], edge.token({Scope.READ})).status_code == 200


def test_a_key_carries_its_own_quota(make_edge: MakeEdge) -> None:
    edge = make_edge(quota=Quota(3, 60))
    token = edge.token({Scope.READ}, employees=Quota(5, 60))
    statuses = [edge.send(ROUTES[0], token).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    resp = edge.send(Route("GET", "/v1/managers"), token)
    assert resp.headers["RateLimit-Policy"] == '"managers";q=3;w=60'


def test_two_keys_from_one_address_are_limited_apart(make_edge: MakeEdge) -> None:
    edge = make_edge(quota=Quota(2, 60))
    first, second = edge.token({Scope.READ}), edge.token({Scope.READ})
    assert [edge.send(ROUTES[0], first).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    assert edge.send(ROUTES[0], second).status_code == 200


def test_a_verified_key_is_trusted_for_the_stated_time(make_edge: MakeEdge) -> None:
    edge = make_edge(cache_seconds=300)
    token = edge.token({Scope.READ})
    assert edge.send(ROUTES[0], token).status_code == 200
    edge.keys.revoke(token.split("_")[1])  # another process's service: no shortcut
    assert edge.send(ROUTES[0], token).status_code == 200  # still remembered


def test_options_needs_the_write_scope_like_every_method_but_get_and_head(
    edge: Edge,
) -> None:
    options = Route("OPTIONS", "/v1/employees")
    assert edge.send(options, edge.token({Scope.READ})).status_code == 403
    assert edge.send(options, edge.token({Scope.WRITE})).status_code == 204

"""Health endpoints, and 503 with Retry-After when the database is unreachable."""

from __future__ import annotations

import pytest
from falcon import testing

from tests.http.support import assert_problem


def test_live_is_200_while_the_process_serves(client: testing.TestClient) -> None:
    resp = client.simulate_get("/health/live")
    assert resp.status_code == 200
    assert resp.json["status"] == "ok"


def test_ready_is_200_and_reports_the_database_when_it_answers(
    client: testing.TestClient,
) -> None:
    resp = client.simulate_get("/health/ready")
    assert resp.status_code == 200
    assert resp.json["status"] == "ok"
    assert resp.json["checks"]["database"] == "ok"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/employees", None),
        ("GET", "/v1/employees/1", None),
        ("POST", "/v1/employees", {"name": "Ada", "email": "ada@example.com"}),
        ("PUT", "/v1/employees/1", {"name": "Ada", "email": "ada@example.com"}),
        ("PATCH", "/v1/employees/1", {"title": "T"}),
        ("DELETE", "/v1/employees/1", None),
        ("GET", "/v1/managers", None),
        ("POST", "/v1/managers", {"name": "Grace", "email": "grace@example.com"}),
        ("GET", "/v1/managers/1/employees", None),
        ("PUT", "/v1/managers/1/employees/2", None),
        ("DELETE", "/v1/managers/1/employees/2", None),
    ],
)
def test_a_resource_request_is_503_with_retry_after_when_the_database_is_down(
    offline_client: testing.TestClient,
    method: str,
    path: str,
    body: dict[str, str] | None,
) -> None:
    resp = offline_client.simulate_request(method, path, json=body)
    assert_problem(resp, 503)
    retry_after = resp.headers["Retry-After"]
    assert retry_after.isdigit()
    assert int(retry_after) >= 1
    assert "X-Request-ID" in resp.headers


def test_ready_is_503_naming_the_database_when_it_is_down(
    offline_client: testing.TestClient,
) -> None:
    resp = offline_client.simulate_get("/health/ready")
    body = assert_problem(resp, 503)
    assert "database" in body["detail"]


def test_live_stays_200_when_the_database_is_down(
    offline_client: testing.TestClient,
) -> None:
    resp = offline_client.simulate_get("/health/live")
    assert resp.status_code == 200
    assert resp.json["status"] == "ok"


def test_the_process_keeps_serving_through_repeated_outage_requests(
    offline_client: testing.TestClient,
) -> None:
    for _ in range(3):
        assert offline_client.simulate_get("/v1/managers").status_code == 503
    assert offline_client.simulate_get("/health/live").status_code == 200


def test_request_errors_are_still_reported_before_the_database_is_touched(
    offline_client: testing.TestClient,
) -> None:
    assert_problem(offline_client.simulate_get("/v1/employees/abc"), 404)
    assert_problem(
        offline_client.simulate_get("/v1/employees", query_string="limit=0"),
        422,
        fields={"limit"},
    )
    assert_problem(
        offline_client.simulate_post(
            "/v1/employees", body="{", headers={"Content-Type": "application/json"}
        ),
        400,
    )

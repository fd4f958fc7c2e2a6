"""HEAD answers like GET, without the body."""

from __future__ import annotations

import pytest
from falcon import testing

from tests.http.support import create_employee, create_manager


@pytest.mark.parametrize(
    "path",
    [
        "/v1/employees",
        "/v1/employees/{employee}",
        "/v1/managers",
        "/v1/managers/{manager}",
        "/v1/managers/{manager}/employees",
        "/health/live",
        "/health/ready",
    ],
)
def test_head_has_gets_status_and_headers_but_no_body(
    client: testing.TestClient, path: str
) -> None:
    manager = create_manager(client, "grace@example.com")
    employee = create_employee(client, "ada@example.com")
    url = path.format(employee=employee["id"], manager=manager["id"])
    got, head = client.simulate_get(url), client.simulate_head(url)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers.get("ETag") == got.headers.get("ETag")
    assert head.headers["Content-Length"] == str(len(got.content))


def test_head_honours_if_none_match_and_reports_absence_like_get(
    client: testing.TestClient,
) -> None:
    ada = create_employee(client, "ada@example.com")
    path = f"/v1/employees/{ada['id']}"
    tag = client.simulate_get(path).headers["ETag"]
    assert client.simulate_head(path, headers={"If-None-Match": tag}).status_code == 304
    assert client.simulate_head("/v1/employees/999").status_code == 404

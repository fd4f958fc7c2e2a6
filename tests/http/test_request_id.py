"""X-Request-ID: echoed when sane, generated otherwise, on every response."""

from __future__ import annotations

import re

import pytest
from falcon import testing

from tests.http.support import create_employee

SANE = re.compile(r"[\x21-\x7e]{1,128}")
VISIBLE_ASCII = "".join(chr(c) for c in range(0x21, 0x7F))


@pytest.mark.parametrize(
    "request_id",
    [
        "a",
        "req-42",
        "550e8400-e29b-41d4-a716-446655440000",
        VISIBLE_ASCII[:94],
        "x" * 128,
    ],
)
def test_a_sane_request_id_is_echoed(
    client: testing.TestClient, request_id: str
) -> None:
    resp = client.simulate_get("/v1/employees", headers={"X-Request-ID": request_id})
    assert resp.headers["X-Request-ID"] == request_id


def test_every_visible_ascii_character_is_sane(client: testing.TestClient) -> None:
    for start in range(0, len(VISIBLE_ASCII), 32):
        request_id = VISIBLE_ASCII[start : start + 32]
        resp = client.simulate_get("/health/live", headers={"X-Request-ID": request_id})
        assert resp.headers["X-Request-ID"] == request_id


@pytest.mark.parametrize(
    "request_id",
    ["", "x" * 129, "has space", "tab\there", "del\x7f", "caf\u00e9"],
)
def test_an_insane_request_id_is_replaced_by_a_generated_one(
    client: testing.TestClient, request_id: str
) -> None:
    resp = client.simulate_get("/v1/employees", headers={"X-Request-ID": request_id})
    generated = resp.headers["X-Request-ID"]
    assert generated != request_id
    assert SANE.fullmatch(generated)


def test_a_request_id_is_generated_when_none_is_sent_and_differs_per_request(
    client: testing.TestClient,
) -> None:
    first = client.simulate_get("/v1/employees").headers["X-Request-ID"]
    second = client.simulate_get("/v1/employees").headers["X-Request-ID"]
    assert SANE.fullmatch(first)
    assert SANE.fullmatch(second)
    assert first != second


def test_every_kind_of_response_carries_the_request_id(
    client: testing.TestClient,
) -> None:
    ada = create_employee(client, "ada@example.com")
    path = f"/v1/employees/{ada['id']}"
    etag = client.simulate_get(path).headers["ETag"]
    requests = [
        ("POST", "/v1/managers", {"name": "G", "email": "g@example.com"}, {}),
        ("GET", path, None, {"If-None-Match": etag}),  # 304
        ("PATCH", path, {"title": "T"}, {}),
        ("PATCH", path, {"title": "U"}, {"If-Match": etag}),  # 412
        ("POST", "/v1/employees", {"name": ""}, {}),  # 422
        ("GET", "/v1/nowhere", None, {}),  # 404
        ("DELETE", "/v1/employees", None, {}),  # 405
        ("DELETE", path, None, {}),  # 204
        ("GET", "/health/ready", None, {}),
    ]
    statuses = set()
    for n, (method, url, body, headers) in enumerate(requests):
        sent = f"trace-{n}"
        resp = client.simulate_request(
            method, url, json=body, headers={**headers, "X-Request-ID": sent}
        )
        statuses.add(resp.status_code)
        assert resp.headers["X-Request-ID"] == sent, (method, url, resp.status_code)
    assert statuses == {200, 201, 204, 304, 404, 405, 412, 422}

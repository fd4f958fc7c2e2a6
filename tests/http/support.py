"""Helpers shared by the HTTP tests: creating records and checking problems."""

from __future__ import annotations

import re
from typing import Any

from falcon import testing

PROBLEM_JSON = "application/problem+json"
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
_LEAK_MARKERS = (
    "Traceback",
    'File "',
    ".py",
    "SELECT",
    "INSERT",
    "UPDATE ",
    "psycopg",
    "peewee",
    "sqlite",
    "/work/",
    "127.0.0.1",
)

Result = testing.Result


def create_manager(
    client: testing.TestClient, email: str, name: str = "Grace Hopper", **more: Any
) -> dict[str, Any]:
    resp = client.simulate_post(
        "/v1/managers", json={"name": name, "email": email, **more}
    )
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json
    return body


def create_employee(
    client: testing.TestClient, email: str, name: str = "Ada Lovelace", **more: Any
) -> dict[str, Any]:
    resp = client.simulate_post(
        "/v1/employees", json={"name": name, "email": email, **more}
    )
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json
    return body


def ids(page: Result) -> list[int]:
    return [item["id"] for item in page.json["items"]]


def next_link(resp: Result) -> str | None:
    """The URL of a Link: <...>; rel="next" header, or None when absent."""
    header = resp.headers.get("Link")
    if header is None:
        return None
    match = re.fullmatch(r'<([^>]*)>;\s*rel="next"', header)
    assert match, f"unexpected Link header {header!r}"
    return match.group(1)


def assert_problem(
    resp: Result, status: int, *, fields: set[str] | None = None
) -> dict[str, Any]:
    """An RFC 9457 body with this status; `errors` naming exactly `fields`.

    With fields None the problem is not a validation failure and must carry
    no `errors` member at all.
    """
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"] == PROBLEM_JSON
    body: dict[str, Any] = resp.json
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str)
    assert body["title"]
    assert body["status"] == status
    assert isinstance(body["detail"], str)
    assert body["detail"]
    for marker in _LEAK_MARKERS:
        assert marker not in resp.text, f"{marker!r} leaked in {resp.text}"
    if fields is None:
        assert "errors" not in body
    else:
        named = {error["field"] for error in body["errors"]}
        assert named == fields, body["errors"]
        for error in body["errors"]:
            assert set(error) == {"field", "message"}
            assert error["message"]
    return body

"""The change feed through the real app, over every store: what each write
leaves in it, its cursors, its parameters and its errors."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from falcon import testing

from adapters.memory.storage import MemoryStorage
from domain.services import ChangeFeed
from tests.conftest import make_client
from tests.http.support import assert_problem, create_employee, create_manager
from tests.support.clocks import ManualClock


def changes(client: testing.TestClient, **params: str) -> dict[str, Any]:
    resp = client.simulate_get("/v1/changes", params=params)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json
    return body


def everything(client: testing.TestClient, **params: str) -> list[dict[str, Any]]:
    return list(changes(client, limit="1000", **params)["items"])


def test_a_records_life_is_in_the_feed_as_get_returned_it(
    any_client: testing.TestClient,
) -> None:
    client = any_client
    boss = create_manager(client, "grace@example.com")
    path = f"/v1/employees/{create_employee(client, 'ada@example.com')['id']}"
    seen = [client.simulate_get(path).json]
    steps = [
        lambda: client.simulate_patch(path, json={"title": "Engineer"}),
        lambda: client.simulate_put(
            f"/v1/managers/{boss['id']}/employees/{seen[0]['id']}"
        ),
        lambda: client.simulate_delete(
            f"/v1/managers/{boss['id']}/employees/{seen[0]['id']}"
        ),
    ]
    for step in steps:
        assert step().status_code in (200, 204)
        seen.append(client.simulate_get(path).json)
    assert client.simulate_delete(path).status_code == 204

    mine = everything(client, resource="employee")
    assert [c["action"] for c in mine] == ["created"] + ["updated"] * 3 + ["deleted"]
    assert [c["version"] for c in mine] == [1, 2, 3, 4, 4]
    assert [c["data"] for c in mine] == [*seen, None]
    assert {c["id"] for c in mine} == {seen[0]["id"]}
    assert [c["at"] for c in mine[:4]] == [r["updated_at"] for r in seen]
    (created,) = everything(client, resource="manager")
    assert (created["action"], created["data"]) == ("created", boss)


def test_writes_that_change_nothing_leave_nothing(
    any_client: testing.TestClient,
) -> None:
    client = any_client
    boss = create_manager(client, "grace@example.com")
    ada = create_employee(client, "ada@example.com", manager_id=boss["id"])
    body = {"name": "Bob", "email": "bob@example.com"}
    key = {"Idempotency-Key": "bob-1"}
    assert (
        client.simulate_post("/v1/employees", json=body, headers=key).status_code == 201
    )
    before = everything(client)
    replayed = client.simulate_post("/v1/employees", json=body, headers=key)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    member = f"/v1/managers/{boss['id']}/employees/{ada['id']}"
    assert client.simulate_put(member).status_code == 200  # already a member
    unchanged = {
        k: ada[k] for k in ("name", "email", "title", "department", "manager_id")
    }
    assert (
        client.simulate_put(f"/v1/employees/{ada['id']}", json=unchanged).status_code
        == 200
    )
    assert (
        client.simulate_patch(
            f"/v1/employees/{ada['id']}", json={"name": "Ada Lovelace"}
        ).status_code
        == 200
    )
    refused = [
        client.simulate_post("/v1/employees", json={"name": "X",
                                                    "email": "ADA@example.com"}),
        client.simulate_delete(f"/v1/managers/{boss['id']}"),
        client.simulate_patch(f"/v1/employees/{ada['id']}", json={"title": "T"},
                              headers={"If-Match": '"nope"'}),
        client.simulate_patch(f"/v1/employees/{ada['id']}", json={"manager_id": 999}),
    ]  # fmt: skip
    assert [r.status_code for r in refused] == [409, 409, 412, 422]
    assert everything(client) == before


def test_following_next_cursor_reads_each_change_once_then_stays_put(
    client: testing.TestClient,
) -> None:
    for i in range(5):
        create_manager(client, f"m{i}@example.com")
    read: list[dict[str, Any]] = []
    page = changes(client, limit="2")
    read += page["items"]
    while page["items"]:
        page = changes(client, limit="2", after=page["next_cursor"])
        read += page["items"]
    assert read == everything(client)
    assert page["next_cursor"] is not None
    assert (
        changes(client, after=page["next_cursor"])["next_cursor"] == page["next_cursor"]
    )
    late = create_manager(client, "late@example.com")
    (new,) = changes(client, after=page["next_cursor"])["items"]
    assert new["data"] == late
    assert len({c["seq"] for c in read}) == len(read) == 5


def test_each_seq_is_a_cursor_too(client: testing.TestClient) -> None:
    for i in range(3):
        create_manager(client, f"m{i}@example.com")
    first, second, third = everything(client)
    assert changes(client, after=first["seq"])["items"] == [second, third]


def test_the_head_is_the_end_now_and_later_changes_follow_it(
    any_client: testing.TestClient,
) -> None:
    create_manager(any_client, "old@example.com")
    head = any_client.simulate_get("/v1/changes/head")
    assert head.status_code == 200
    assert set(head.json) == {"cursor"}
    assert changes(any_client, after=head.json["cursor"])["items"] == []
    new = create_employee(any_client, "new@example.com")
    (change,) = changes(any_client, after=head.json["cursor"])["items"]
    assert change["data"] == new
    assert any_client.simulate_head("/v1/changes/head").status_code == 200


def test_an_empty_feed_has_a_cursor_to_poll_with(client: testing.TestClient) -> None:
    page = changes(client)
    assert page["items"] == [] and isinstance(page["next_cursor"], str)
    created = create_manager(client, "m@example.com")
    assert [c["data"] for c in changes(client, after=page["next_cursor"])["items"]] == [
        created
    ]


def _cursor(text: bytes) -> str:
    return base64.urlsafe_b64encode(text).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"limit": "0"}, {"limit"}),
        ({"limit": "1001"}, {"limit"}),
        ({"limit": "ten"}, {"limit"}),
        ({"limit": "-1"}, {"limit"}),
        ({"resource": "team"}, {"resource"}),
        ({"resource": "Employee"}, {"resource"}),
        ({"after": "not-a-cursor"}, {"after"}),
        ({"after": _cursor(b"c1:5")}, {"after"}),  # a page cursor, not a feed one
        ({"after": _cursor(b"f1:1.")}, {"after"}),
        ({"after": _cursor(b"f1:99999999999999999999.1")}, {"after"}),
        ({"after": "A" * 65}, {"after"}),
        ({"since": "1"}, {"since"}),
        ({"limit": "0", "resource": "x", "after": "y"}, {"limit", "resource", "after"}),
    ],
)
def test_invalid_parameters_are_422_naming_each(
    client: testing.TestClient, params: dict[str, str], fields: set[str]
) -> None:
    assert_problem(
        client.simulate_get("/v1/changes", params=params), 422, fields=fields
    )


def test_repeated_parameters_and_any_on_the_head_are_422(
    client: testing.TestClient,
) -> None:
    resp = client.simulate_get("/v1/changes", query_string="limit=1&limit=2")
    assert_problem(resp, 422, fields={"limit"})
    resp = client.simulate_get("/v1/changes/head", params={"after": "x"})
    assert_problem(resp, 422, fields={"after"})


def test_a_cursor_behind_the_retention_is_410_and_a_fresh_start_works() -> None:
    clock, storage = ManualClock(), MemoryStorage()
    client = make_client(storage, clock=clock)
    create_manager(client, "old@example.com")
    stale = changes(client)["items"][0]["seq"]
    before_all = json.loads(client.simulate_get("/v1/changes/head").text)["cursor"]
    clock.advance(8 * 86400)
    create_manager(client, "new@example.com")
    pruned = ChangeFeed(storage, clock).prune("test", 10, timedelta(days=7), 100)
    assert pruned == 1
    behind = client.simulate_get("/v1/changes", params={"after": _cursor(b"f1:0.0")})
    assert_problem(behind, 410)
    assert (
        changes(client, after=stale)["items"][0]["data"]["email"] == "new@example.com"
    )
    assert (
        changes(client, after=before_all)["items"][0]["data"]["email"]
        == "new@example.com"
    )
    assert [c["data"]["email"] for c in everything(client)] == ["new@example.com"]


def test_the_feed_is_its_own_rate_limit_group(client: testing.TestClient) -> None:
    resp = client.simulate_get("/v1/changes")
    assert resp.headers["RateLimit-Policy"].startswith('"changes";')

"""Reads may come from the cache, but never stale once a write has been answered.

Each test first reads every view a write affects, so they are cached, then
writes, then reads them again.
"""

from __future__ import annotations

from typing import Any

from falcon import testing

from tests.http.support import assert_problem, create_employee, create_manager, ids


def warm(client: testing.TestClient, *paths: str) -> None:
    for path in paths:
        client.simulate_get(path)
        client.simulate_get(path)


def team(manager: dict[str, Any]) -> str:
    return f"/v1/managers/{manager['id']}/employees"


def item(employee: dict[str, Any]) -> str:
    return f"/v1/employees/{employee['id']}"


def test_creating_an_employee_shows_in_lists_and_teams_at_once(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    by_manager = f"/v1/employees?manager_id={grace['id']}"
    warm(client, "/v1/employees", by_manager, team(grace), "/v1/employees/1")
    ada = create_employee(client, "ada@example.com", manager_id=grace["id"])
    assert client.simulate_get(item(ada)).json == ada
    assert ids(client.simulate_get("/v1/employees")) == [ada["id"]]
    assert ids(client.simulate_get(by_manager)) == [ada["id"]]
    assert ids(client.simulate_get(team(grace))) == [ada["id"]]


def test_put_patch_and_delete_of_an_employee_are_seen_at_once(
    client: testing.TestClient,
) -> None:
    ada = create_employee(client, "ada@example.com", department="R&D")
    by_department = "/v1/employees?department=R%26D"
    warm(client, item(ada), "/v1/employees", by_department)

    put = client.simulate_put(
        item(ada), json={"name": "Ada King", "email": "ada@example.com"}
    )
    assert client.simulate_get(item(ada)).json == put.json
    assert client.simulate_get("/v1/employees").json["items"] == [put.json]
    assert client.simulate_get(by_department).json["items"] == []

    warm(client, item(ada), "/v1/employees", by_department)
    patch = client.simulate_patch(item(ada), json={"department": "R&D"})
    assert client.simulate_get(item(ada)).json == patch.json
    assert client.simulate_get(by_department).json["items"] == [patch.json]

    warm(client, item(ada), "/v1/employees", by_department)
    client.simulate_delete(item(ada))
    assert_problem(client.simulate_get(item(ada)), 404)
    assert client.simulate_get("/v1/employees").json["items"] == []
    assert client.simulate_get(by_department).json["items"] == []


def test_an_etag_from_before_a_write_no_longer_gets_304(
    client: testing.TestClient,
) -> None:
    ada = create_employee(client, "ada@example.com")
    old = client.simulate_get(item(ada)).headers["ETag"]
    client.simulate_patch(item(ada), json={"title": "Engineer"})
    resp = client.simulate_get(item(ada), headers={"If-None-Match": old})
    assert resp.status_code == 200
    assert resp.json["title"] == "Engineer"


def test_join_and_leave_are_seen_at_once_in_every_view(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    ada = create_employee(client, "ada@example.com")
    by_manager = f"/v1/employees?manager_id={grace['id']}"
    views = (item(ada), "/v1/employees", by_manager, team(grace))

    warm(client, *views)
    joined = client.simulate_put(f"{team(grace)}/{ada['id']}").json
    assert client.simulate_get(item(ada)).json == joined
    assert client.simulate_get("/v1/employees").json["items"] == [joined]
    assert client.simulate_get(by_manager).json["items"] == [joined]
    assert client.simulate_get(team(grace)).json["items"] == [joined]

    warm(client, *views)
    assert client.simulate_delete(f"{team(grace)}/{ada['id']}").status_code == 204
    left = client.simulate_get(item(ada)).json
    assert left["manager_id"] is None
    assert left["version"] == joined["version"] + 1
    assert client.simulate_get("/v1/employees").json["items"] == [left]
    assert client.simulate_get(by_manager).json["items"] == []
    assert client.simulate_get(team(grace)).json["items"] == []


def test_moving_an_employee_by_patch_updates_both_teams_at_once(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    alan = create_manager(client, "alan@example.com")
    ada = create_employee(client, "ada@example.com", manager_id=grace["id"])
    warm(client, team(grace), team(alan))
    client.simulate_patch(item(ada), json={"manager_id": alan["id"]})
    assert ids(client.simulate_get(team(grace))) == []
    assert ids(client.simulate_get(team(alan))) == [ada["id"]]


def test_a_deleted_managers_team_is_404_at_once(client: testing.TestClient) -> None:
    grace = create_manager(client, "grace@example.com")
    path = f"/v1/managers/{grace['id']}"
    warm(client, team(grace), path, "/v1/managers")
    assert client.simulate_delete(path).status_code == 204
    assert_problem(client.simulate_get(team(grace)), 404)
    assert_problem(client.simulate_get(path), 404)
    assert client.simulate_get("/v1/managers").json["items"] == []


def test_manager_writes_are_seen_at_once(client: testing.TestClient) -> None:
    grace = create_manager(client, "grace@example.com")
    path = f"/v1/managers/{grace['id']}"
    warm(client, path, "/v1/managers", "/v1/managers?q=hopper")
    put = client.simulate_put(
        path, json={"name": "Grace Hopper", "email": "hopper@example.com"}
    ).json
    assert client.simulate_get(path).json == put
    assert client.simulate_get("/v1/managers").json["items"] == [put]
    assert client.simulate_get("/v1/managers?q=hopper").json["items"] == [put]
    warm(client, path, "/v1/managers")
    patch = client.simulate_patch(path, json={"department": "Navy"}).json
    assert client.simulate_get(path).json == patch
    assert client.simulate_get("/v1/managers").json["items"] == [patch]


def test_a_failed_write_leaves_cached_reads_correct(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    ada = create_employee(client, "ada@example.com", manager_id=grace["id"])
    warm(client, item(ada), team(grace))
    assert_problem(client.simulate_delete(f"/v1/managers/{grace['id']}"), 409)
    assert client.simulate_get(item(ada)).json == ada
    assert client.simulate_get(team(grace)).json["items"] == [ada]

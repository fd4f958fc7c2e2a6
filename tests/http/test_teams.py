"""A manager's team: listing it, joining it, leaving it."""

from __future__ import annotations

from falcon import testing

from tests.http.conftest import ManualClock
from tests.http.support import (
    assert_problem,
    create_employee,
    create_manager,
    ids,
    next_link,
)


def member_path(manager: dict[str, int], employee: dict[str, int]) -> str:
    return f"/v1/managers/{manager['id']}/employees/{employee['id']}"


def test_the_team_lists_only_the_managers_employees_by_id(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    alan = create_manager(client, "alan@example.com")
    a = create_employee(client, "a@example.com", manager_id=grace["id"])
    create_employee(client, "b@example.com", manager_id=alan["id"])
    create_employee(client, "c@example.com")
    d = create_employee(client, "d@example.com", manager_id=grace["id"])
    resp = client.simulate_get(f"/v1/managers/{grace['id']}/employees")
    assert resp.status_code == 200
    assert resp.json == {"items": [a, d], "next_cursor": None}
    assert "Link" not in resp.headers


def test_an_empty_team_is_an_empty_page(client: testing.TestClient) -> None:
    grace = create_manager(client, "grace@example.com")
    resp = client.simulate_get(f"/v1/managers/{grace['id']}/employees")
    assert resp.status_code == 200
    assert resp.json == {"items": [], "next_cursor": None}


def test_the_team_of_an_absent_manager_is_404(client: testing.TestClient) -> None:
    assert_problem(client.simulate_get("/v1/managers/404/employees"), 404)


def test_the_team_is_paged_with_cursor_and_link(client: testing.TestClient) -> None:
    grace = create_manager(client, "grace@example.com")
    members = [
        create_employee(client, f"e{i}@example.com", manager_id=grace["id"])["id"]
        for i in range(3)
    ]
    first = client.simulate_get(
        f"/v1/managers/{grace['id']}/employees", params={"limit": "2"}
    )
    assert ids(first) == members[:2]
    link = next_link(first)
    assert link is not None
    assert link.startswith(f"/v1/managers/{grace['id']}/employees?")
    second = client.simulate_get(link)
    assert ids(second) == members[2:]
    assert second.json["next_cursor"] is None


def test_the_team_listing_names_each_invalid_query_parameter(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    resp = client.simulate_get(
        f"/v1/managers/{grace['id']}/employees",
        query_string="limit=0&cursor=bogus&manager_id=1",
    )
    assert_problem(resp, 422, fields={"limit", "cursor", "manager_id"})


def test_joining_a_team_answers_200_with_the_employee_and_its_etag(
    clocked_client: testing.TestClient, clock: ManualClock
) -> None:
    grace = create_manager(clocked_client, "grace@example.com")
    ada = create_employee(clocked_client, "ada@example.com")
    clock.advance(30)
    resp = clocked_client.simulate_put(member_path(grace, ada))
    assert resp.status_code == 200
    assert resp.json == {
        **ada,
        "manager_id": grace["id"],
        "version": 2,
        "updated_at": "2026-11-26T03:00:30Z",
    }
    assert resp.headers["ETag"] == f'"{ada["id"]}-2"'
    assert clocked_client.simulate_get(f"/v1/employees/{ada['id']}").json == resp.json
    team = clocked_client.simulate_get(f"/v1/managers/{grace['id']}/employees")
    assert ids(team) == [ada["id"]]


def test_joining_the_same_team_again_changes_nothing(
    clocked_client: testing.TestClient, clock: ManualClock
) -> None:
    grace = create_manager(clocked_client, "grace@example.com")
    ada = create_employee(clocked_client, "ada@example.com")
    joined = clocked_client.simulate_put(member_path(grace, ada))
    clock.advance(30)
    again = clocked_client.simulate_put(member_path(grace, ada))
    assert again.status_code == 200
    assert again.json == joined.json
    assert again.json["version"] == 2
    assert again.headers["ETag"] == joined.headers["ETag"]


def test_joining_while_in_another_team_is_409_and_changes_nothing(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    alan = create_manager(client, "alan@example.com")
    ada = create_employee(client, "ada@example.com", manager_id=grace["id"])
    assert_problem(client.simulate_put(member_path(alan, ada)), 409)
    assert client.simulate_get(f"/v1/employees/{ada['id']}").json == ada


def test_joining_with_an_absent_employee_or_manager_is_404(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    ada = create_employee(client, "ada@example.com")
    assert_problem(client.simulate_put(f"/v1/managers/{grace['id']}/employees/99"), 404)
    assert_problem(client.simulate_put(f"/v1/managers/99/employees/{ada['id']}"), 404)
    assert client.simulate_get(f"/v1/employees/{ada['id']}").json == ada


def test_leaving_a_team_answers_204_and_clears_manager_id(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    ada = create_employee(client, "ada@example.com", manager_id=grace["id"])
    resp = client.simulate_delete(member_path(grace, ada))
    assert resp.status_code == 204
    assert resp.content == b""
    after = client.simulate_get(f"/v1/employees/{ada['id']}").json
    assert after["manager_id"] is None
    assert after["version"] == ada["version"] + 1
    team = client.simulate_get(f"/v1/managers/{grace['id']}/employees")
    assert team.json["items"] == []


def test_leaving_a_team_one_is_not_in_is_404(client: testing.TestClient) -> None:
    grace = create_manager(client, "grace@example.com")
    alan = create_manager(client, "alan@example.com")
    in_other_team = create_employee(client, "a@example.com", manager_id=alan["id"])
    in_no_team = create_employee(client, "b@example.com")
    assert_problem(client.simulate_delete(member_path(grace, in_other_team)), 404)
    assert_problem(client.simulate_delete(member_path(grace, in_no_team)), 404)
    assert client.simulate_get(f"/v1/employees/{in_other_team['id']}").json == (
        in_other_team
    )


def test_leaving_with_an_absent_employee_or_manager_is_404(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    ada = create_employee(client, "ada@example.com", manager_id=grace["id"])
    assert_problem(
        client.simulate_delete(f"/v1/managers/{grace['id']}/employees/99"), 404
    )
    assert_problem(
        client.simulate_delete(f"/v1/managers/99/employees/{ada['id']}"), 404
    )
    assert client.simulate_get(f"/v1/employees/{ada['id']}").json == ada


def test_leaving_twice_is_404_the_second_time(client: testing.TestClient) -> None:
    grace = create_manager(client, "grace@example.com")
    ada = create_employee(client, "ada@example.com", manager_id=grace["id"])
    assert client.simulate_delete(member_path(grace, ada)).status_code == 204
    assert_problem(client.simulate_delete(member_path(grace, ada)), 404)


def test_patching_manager_id_moves_an_employee_between_teams(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    alan = create_manager(client, "alan@example.com")
    ada = create_employee(client, "ada@example.com", manager_id=grace["id"])
    moved = client.simulate_patch(
        f"/v1/employees/{ada['id']}", json={"manager_id": alan["id"]}
    )
    assert moved.status_code == 200
    assert moved.json["manager_id"] == alan["id"]
    assert (
        client.simulate_get(f"/v1/managers/{grace['id']}/employees").json["items"] == []
    )
    assert ids(client.simulate_get(f"/v1/managers/{alan['id']}/employees")) == [
        ada["id"]
    ]
    # Join and leave see the same relation as the PATCH did.
    assert client.simulate_put(member_path(alan, ada)).json == moved.json
    assert_problem(client.simulate_delete(member_path(grace, ada)), 404)
    assert client.simulate_delete(member_path(alan, ada)).status_code == 204


def test_join_and_leave_each_bump_the_employee_version(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    ada = create_employee(client, "ada@example.com")
    assert client.simulate_put(member_path(grace, ada)).json["version"] == 2
    client.simulate_delete(member_path(grace, ada))
    after = client.simulate_get(f"/v1/employees/{ada['id']}")
    assert after.json["version"] == 3
    assert after.headers["ETag"] == f'"{ada["id"]}-3"'

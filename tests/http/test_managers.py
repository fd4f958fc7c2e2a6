"""The manager endpoints: create, read, replace, merge-patch, delete, validation."""

from __future__ import annotations

import pytest
from falcon import testing

from tests.http.conftest import ManualClock
from tests.http.support import (
    RFC3339_UTC,
    assert_problem,
    create_employee,
    create_manager,
)


def test_creating_a_manager_answers_201_with_location_etag_and_the_body(
    client: testing.TestClient,
) -> None:
    resp = client.simulate_post(
        "/v1/managers",
        json={
            "name": " Grace Hopper ",
            "email": "Grace@Example.com",
            "department": "R&D",
        },
    )
    assert resp.status_code == 201
    body = resp.json
    assert resp.headers["Location"] == f"/v1/managers/{body['id']}"
    assert resp.headers["ETag"] == f'"{body["id"]}-1"'
    assert set(body) == {
        "id",
        "name",
        "email",
        "department",
        "version",
        "created_at",
        "updated_at",
    }
    assert body["name"] == "Grace Hopper"
    assert body["email"] == "grace@example.com"
    assert body["department"] == "R&D"
    assert body["version"] == 1
    assert RFC3339_UTC.fullmatch(body["created_at"])
    assert body["updated_at"] == body["created_at"]


def test_a_created_manager_can_be_read_back_with_its_etag(
    client: testing.TestClient,
) -> None:
    created = client.simulate_post(
        "/v1/managers", json={"name": "Grace", "email": "grace@example.com"}
    )
    fetched = client.simulate_get(created.headers["Location"])
    assert fetched.status_code == 200
    assert fetched.json == created.json
    assert fetched.json["department"] is None
    assert fetched.headers["ETag"] == created.headers["ETag"]


def test_reading_an_absent_manager_is_404(client: testing.TestClient) -> None:
    assert_problem(client.simulate_get("/v1/managers/777"), 404)


@pytest.mark.parametrize("field", ["title", "manager_id", "id", "version", "x"])
def test_fields_a_manager_does_not_have_are_422(
    client: testing.TestClient, field: str
) -> None:
    resp = client.simulate_post(
        "/v1/managers", json={"name": "Grace", "email": "g@example.com", field: 1}
    )
    assert_problem(resp, 422, fields={field})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x" * 201, "email": "g@example.com"}, "name"),
        ({"name": "  ", "email": "g@example.com"}, "name"),
        ({"name": "Grace", "email": "a" * 243 + "@example.com"}, "email"),
        ({"name": "Grace", "email": "grace"}, "email"),
        (
            {"name": "Grace", "email": "g@example.com", "department": "d" * 101},
            "department",
        ),
        ({"name": "Grace", "email": 3}, "email"),
        ({"email": "g@example.com"}, "name"),
    ],
)
def test_a_manager_breaking_a_field_rule_is_422_naming_the_field(
    client: testing.TestClient, body: dict[str, object], field: str
) -> None:
    assert_problem(client.simulate_post("/v1/managers", json=body), 422, fields={field})


def test_manager_fields_at_their_length_limits_are_accepted(
    client: testing.TestClient,
) -> None:
    email = "a" * 242 + "@example.com"
    body = create_manager(client, email, name="n" * 200, department="d" * 100)
    assert body["email"] == email
    assert len(body["name"]) == 200
    assert len(body["department"]) == 100


def test_a_duplicate_manager_email_is_409_whatever_its_case(
    client: testing.TestClient,
) -> None:
    create_manager(client, "grace@example.com")
    resp = client.simulate_post(
        "/v1/managers", json={"name": "Other", "email": "GRACE@EXAMPLE.COM"}
    )
    assert_problem(resp, 409)


def test_a_manager_may_share_an_email_with_an_employee(
    client: testing.TestClient,
) -> None:
    create_employee(client, "grace@example.com")
    assert create_manager(client, "grace@example.com")["email"] == "grace@example.com"


def test_put_replaces_a_manager_and_clears_omitted_department(
    clocked_client: testing.TestClient, clock: ManualClock
) -> None:
    created = create_manager(clocked_client, "grace@example.com", department="R&D")
    clock.advance(1)
    resp = clocked_client.simulate_put(
        f"/v1/managers/{created['id']}",
        json={"name": "Rear Admiral Hopper", "email": "hopper@example.com"},
    )
    assert resp.status_code == 200
    assert resp.json == {
        **created,
        "name": "Rear Admiral Hopper",
        "email": "hopper@example.com",
        "department": None,
        "version": 2,
        "updated_at": "2026-11-26T03:00:01Z",
    }
    assert resp.headers["ETag"] == f'"{created["id"]}-2"'


def test_put_of_a_manager_with_the_current_values_changes_nothing(
    clocked_client: testing.TestClient, clock: ManualClock
) -> None:
    created = create_manager(clocked_client, "grace@example.com", department="R&D")
    clock.advance(1)
    resp = clocked_client.simulate_put(
        f"/v1/managers/{created['id']}",
        json={
            "name": "Grace Hopper",
            "email": "grace@example.com",
            "department": "R&D",
        },
    )
    assert resp.status_code == 200
    assert resp.json == created
    assert resp.headers["ETag"] == f'"{created["id"]}-1"'


def test_patch_of_a_manager_changes_only_the_fields_sent(
    client: testing.TestClient,
) -> None:
    created = create_manager(client, "grace@example.com", department="R&D")
    resp = client.simulate_patch(
        f"/v1/managers/{created['id']}",
        body='{"name": "Amazing Grace"}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert resp.status_code == 200
    assert resp.json["name"] == "Amazing Grace"
    assert resp.json["email"] == "grace@example.com"
    assert resp.json["department"] == "R&D"
    assert resp.json["version"] == 2


def test_patch_with_null_clears_a_managers_department(
    client: testing.TestClient,
) -> None:
    created = create_manager(client, "grace@example.com", department="R&D")
    resp = client.simulate_patch(
        f"/v1/managers/{created['id']}", json={"department": None}
    )
    assert resp.status_code == 200
    assert resp.json["department"] is None


def test_an_empty_patch_of_a_manager_changes_nothing(
    clocked_client: testing.TestClient, clock: ManualClock
) -> None:
    created = create_manager(clocked_client, "grace@example.com")
    clock.advance(1)
    resp = clocked_client.simulate_patch(f"/v1/managers/{created['id']}", json={})
    assert resp.status_code == 200
    assert resp.json == created
    assert resp.headers["ETag"] == f'"{created["id"]}-1"'


def test_patch_of_a_manager_taking_another_managers_email_is_409(
    client: testing.TestClient,
) -> None:
    create_manager(client, "taken@example.com")
    grace = create_manager(client, "grace@example.com")
    resp = client.simulate_patch(
        f"/v1/managers/{grace['id']}", json={"email": "TAKEN@example.com"}
    )
    assert_problem(resp, 409)
    resp = client.simulate_put(
        f"/v1/managers/{grace['id']}", json={"name": "G", "email": "taken@example.com"}
    )
    assert_problem(resp, 409)
    assert client.simulate_get(f"/v1/managers/{grace['id']}").json == grace


def test_put_and_patch_of_an_absent_manager_are_404(
    client: testing.TestClient,
) -> None:
    body = {"name": "Grace", "email": "grace@example.com"}
    assert_problem(client.simulate_put("/v1/managers/5", json=body), 404)
    assert_problem(client.simulate_patch("/v1/managers/5", json={}), 404)


def test_deleting_a_manager_without_employees_answers_204(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    resp = client.simulate_delete(f"/v1/managers/{grace['id']}")
    assert resp.status_code == 204
    assert resp.content == b""
    assert_problem(client.simulate_get(f"/v1/managers/{grace['id']}"), 404)
    assert_problem(client.simulate_delete(f"/v1/managers/{grace['id']}"), 404)


def test_deleting_a_manager_with_employees_is_409_and_detaches_no_one(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    ada = create_employee(client, "ada@example.com", manager_id=grace["id"])
    resp = client.simulate_delete(f"/v1/managers/{grace['id']}")
    assert_problem(resp, 409)
    assert client.simulate_get(f"/v1/managers/{grace['id']}").json == grace
    assert client.simulate_get(f"/v1/employees/{ada['id']}").json == ada


def test_a_manager_can_be_deleted_once_the_team_is_empty(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    ada = create_employee(client, "ada@example.com", manager_id=grace["id"])
    left = client.simulate_delete(f"/v1/managers/{grace['id']}/employees/{ada['id']}")
    assert left.status_code == 204
    assert client.simulate_delete(f"/v1/managers/{grace['id']}").status_code == 204


def test_deleting_an_absent_manager_is_404(client: testing.TestClient) -> None:
    assert_problem(client.simulate_delete("/v1/managers/31337"), 404)

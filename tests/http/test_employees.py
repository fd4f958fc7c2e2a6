"""The employee endpoints: create, read, replace, merge-patch, delete, validation."""

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

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


# Create


def test_creating_an_employee_answers_201_with_location_etag_and_the_body(
    client: testing.TestClient,
) -> None:
    boss = create_manager(client, "grace@example.com")
    resp = client.simulate_post(
        "/v1/employees",
        json={
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "title": "Engineer",
            "department": "R&D",
            "manager_id": boss["id"],
        },
    )
    assert resp.status_code == 201
    assert resp.headers["Content-Type"] == "application/json"
    body = resp.json
    assert resp.headers["Location"] == f"/v1/employees/{body['id']}"
    assert resp.headers["ETag"] == f'"{body["id"]}-1"'
    assert set(body) == {
        "id",
        "name",
        "email",
        "title",
        "department",
        "manager_id",
        "version",
        "created_at",
        "updated_at",
    }
    assert body["id"] >= 1
    assert body["name"] == "Ada Lovelace"
    assert body["email"] == "ada@example.com"
    assert body["title"] == "Engineer"
    assert body["department"] == "R&D"
    assert body["manager_id"] == boss["id"]
    assert body["version"] == 1
    assert RFC3339_UTC.fullmatch(body["created_at"])
    assert body["updated_at"] == body["created_at"]


def test_created_employee_can_be_read_back_from_its_location(
    client: testing.TestClient,
) -> None:
    created = client.simulate_post(
        "/v1/employees", json={"name": "Ada", "email": "ada@example.com"}
    )
    fetched = client.simulate_get(created.headers["Location"])
    assert fetched.status_code == 200
    assert fetched.json == created.json
    assert fetched.headers["ETag"] == created.headers["ETag"]


def test_ids_are_assigned_by_the_server_and_distinct(
    client: testing.TestClient,
) -> None:
    first = create_employee(client, "a@example.com")
    second = create_employee(client, "b@example.com")
    assert first["id"] >= 1
    assert second["id"] >= 1
    assert first["id"] != second["id"]


def test_omitted_optional_employee_fields_are_null(
    client: testing.TestClient,
) -> None:
    body = create_employee(client, "ada@example.com")
    assert body["title"] is None
    assert body["department"] is None
    assert body["manager_id"] is None


def test_timestamps_are_rfc3339_utc_with_a_z_suffix(
    clocked_client: testing.TestClient,
) -> None:
    body = create_employee(clocked_client, "ada@example.com")
    assert body["created_at"] == "2026-11-26T03:00:00Z"
    assert body["updated_at"] == "2026-11-26T03:00:00Z"


def test_the_name_is_trimmed_and_the_email_lower_cased(
    client: testing.TestClient,
) -> None:
    body = create_employee(client, "Ada.Lovelace@Example.COM", name="  Ada \t")
    assert body["name"] == "Ada"
    assert body["email"] == "ada.lovelace@example.com"
    again = client.simulate_get(f"/v1/employees/{body['id']}").json
    assert again["name"] == "Ada"
    assert again["email"] == "ada.lovelace@example.com"


def test_a_name_of_200_characters_after_trimming_is_accepted(
    client: testing.TestClient,
) -> None:
    name = "é" * 200
    body = create_employee(client, "ada@example.com", name=f"   {name}   ")
    assert body["name"] == name


def test_a_name_of_201_characters_after_trimming_is_422_naming_name(
    client: testing.TestClient,
) -> None:
    resp = client.simulate_post(
        "/v1/employees", json={"name": " " + "x" * 201 + " ", "email": "a@example.com"}
    )
    assert_problem(resp, 422, fields={"name"})


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_a_name_that_is_empty_after_trimming_is_422(
    client: testing.TestClient, name: str
) -> None:
    resp = client.simulate_post(
        "/v1/employees", json={"name": name, "email": "a@example.com"}
    )
    assert_problem(resp, 422, fields={"name"})


def test_an_email_of_254_characters_is_accepted(client: testing.TestClient) -> None:
    email = "a" * (254 - len("@example.com")) + "@example.com"
    assert len(email) == 254
    body = create_employee(client, email)
    assert body["email"] == email


def test_an_email_of_255_characters_is_422_naming_email(
    client: testing.TestClient,
) -> None:
    email = "a" * (255 - len("@example.com")) + "@example.com"
    resp = client.simulate_post("/v1/employees", json={"name": "Ada", "email": email})
    assert_problem(resp, 422, fields={"email"})


@pytest.mark.parametrize(
    "email",
    [
        "plainaddress",
        "@example.com",
        "ada@",
        "ada@example",
        "ada@@example.com",
        "ada@exa@mple.com",
        "ada lovelace@example.com",
        "ada@example..com",
        "ada\u0000@example.com",
        "",
    ],
)
def test_an_invalid_email_is_422_naming_email(
    client: testing.TestClient, email: str
) -> None:
    resp = client.simulate_post("/v1/employees", json={"name": "Ada", "email": email})
    assert_problem(resp, 422, fields={"email"})


@pytest.mark.parametrize("field", ["title", "department"])
def test_an_optional_text_of_100_characters_is_accepted(
    client: testing.TestClient, field: str
) -> None:
    body = create_employee(client, "ada@example.com", **{field: "t" * 100})
    assert body[field] == "t" * 100


@pytest.mark.parametrize("field", ["title", "department"])
def test_an_optional_text_of_101_characters_is_422_naming_it(
    client: testing.TestClient, field: str
) -> None:
    resp = client.simulate_post(
        "/v1/employees",
        json={"name": "Ada", "email": "ada@example.com", field: "t" * 101},
    )
    assert_problem(resp, 422, fields={field})


def test_missing_required_fields_are_each_named(client: testing.TestClient) -> None:
    resp = client.simulate_post("/v1/employees", json={})
    assert_problem(resp, 422, fields={"name", "email"})


def test_every_offending_field_is_named_at_once(client: testing.TestClient) -> None:
    resp = client.simulate_post(
        "/v1/employees",
        json={"name": 7, "email": "ada@example.com", "title": False, "extra": 1},
    )
    assert_problem(resp, 422, fields={"name", "title", "extra"})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 5),
        ("name", None),
        ("name", ["Ada"]),
        ("email", True),
        ("email", None),
        ("title", 5),
        ("department", {"a": 1}),
        ("manager_id", "1"),
        ("manager_id", 1.5),
        ("manager_id", True),
        ("manager_id", 0),
        ("manager_id", -1),
    ],
)
def test_a_field_of_the_wrong_type_is_422_naming_it(
    client: testing.TestClient, field: str, value: object
) -> None:
    body = {"name": "Ada", "email": "ada@example.com", field: value}
    resp = client.simulate_post("/v1/employees", json=body)
    assert_problem(resp, 422, fields={field})


@pytest.mark.parametrize(
    "field", ["id", "version", "created_at", "updated_at", "nickname"]
)
def test_an_unknown_or_server_owned_field_is_422_naming_it(
    client: testing.TestClient, field: str
) -> None:
    resp = client.simulate_post(
        "/v1/employees", json={"name": "Ada", "email": "ada@example.com", field: 1}
    )
    assert_problem(resp, 422, fields={field})
    assert client.simulate_get("/v1/employees").json["items"] == []


def test_an_unknown_manager_id_is_422_naming_manager_id(
    client: testing.TestClient,
) -> None:
    resp = client.simulate_post(
        "/v1/employees",
        json={"name": "Ada", "email": "ada@example.com", "manager_id": 999},
    )
    assert_problem(resp, 422, fields={"manager_id"})
    assert client.simulate_get("/v1/employees").json["items"] == []


def test_a_duplicate_email_is_409_whatever_its_case(
    client: testing.TestClient,
) -> None:
    create_employee(client, "ada@example.com")
    resp = client.simulate_post(
        "/v1/employees", json={"name": "Other Ada", "email": "ADA@Example.Com"}
    )
    assert_problem(resp, 409)
    assert len(client.simulate_get("/v1/employees").json["items"]) == 1


def test_an_employee_may_share_an_email_with_a_manager(
    client: testing.TestClient,
) -> None:
    create_manager(client, "ada@example.com")
    body = create_employee(client, "ada@example.com")
    assert body["email"] == "ada@example.com"


# Read


def test_reading_an_absent_employee_is_404(client: testing.TestClient) -> None:
    assert_problem(client.simulate_get("/v1/employees/12345"), 404)


def test_reading_an_employee_carries_its_etag(client: testing.TestClient) -> None:
    created = create_employee(client, "ada@example.com")
    resp = client.simulate_get(f"/v1/employees/{created['id']}")
    assert resp.status_code == 200
    assert resp.headers["ETag"] == f'"{created["id"]}-1"'


# Replace (PUT)


def test_put_replaces_the_whole_employee_and_bumps_the_version(
    clocked_client: testing.TestClient, clock: ManualClock
) -> None:
    boss = create_manager(clocked_client, "grace@example.com")
    created = create_employee(
        clocked_client, "ada@example.com", title="Engineer", department="R&D"
    )
    clock.advance(60)
    resp = clocked_client.simulate_put(
        f"/v1/employees/{created['id']}",
        json={
            "name": "Ada King",
            "email": "ada.king@example.com",
            "title": "Countess",
            "department": "Maths",
            "manager_id": boss["id"],
        },
    )
    assert resp.status_code == 200
    body = resp.json
    assert body["id"] == created["id"]
    assert body["name"] == "Ada King"
    assert body["email"] == "ada.king@example.com"
    assert body["title"] == "Countess"
    assert body["department"] == "Maths"
    assert body["manager_id"] == boss["id"]
    assert body["version"] == 2
    assert body["created_at"] == "2026-11-26T03:00:00Z"
    assert body["updated_at"] == "2026-11-26T03:01:00Z"
    assert resp.headers["ETag"] == f'"{created["id"]}-2"'
    assert clocked_client.simulate_get(f"/v1/employees/{created['id']}").json == body


def test_put_sets_omitted_optional_fields_to_null(client: testing.TestClient) -> None:
    boss = create_manager(client, "grace@example.com")
    created = create_employee(
        client,
        "ada@example.com",
        title="Engineer",
        department="R&D",
        manager_id=boss["id"],
    )
    resp = client.simulate_put(
        f"/v1/employees/{created['id']}",
        json={"name": "Ada", "email": "ada@example.com"},
    )
    assert resp.status_code == 200
    assert resp.json["title"] is None
    assert resp.json["department"] is None
    assert resp.json["manager_id"] is None
    assert resp.json["version"] == 2


def test_put_requires_name_and_email(client: testing.TestClient) -> None:
    created = create_employee(client, "ada@example.com")
    resp = client.simulate_put(
        f"/v1/employees/{created['id']}", json={"title": "Engineer"}
    )
    assert_problem(resp, 422, fields={"name", "email"})


def test_put_with_the_current_values_changes_nothing(
    clocked_client: testing.TestClient, clock: ManualClock
) -> None:
    created = create_employee(clocked_client, "ada@example.com", title="Engineer")
    clock.advance(60)
    resp = clocked_client.simulate_put(
        f"/v1/employees/{created['id']}",
        # The same values once trimmed and lower-cased.
        json={
            "name": "  Ada Lovelace ",
            "email": "ADA@example.com",
            "title": "Engineer",
        },
    )
    assert resp.status_code == 200
    assert resp.json == created
    assert resp.headers["ETag"] == f'"{created["id"]}-1"'


def test_put_of_an_absent_employee_is_404(client: testing.TestClient) -> None:
    resp = client.simulate_put(
        "/v1/employees/999", json={"name": "Ada", "email": "ada@example.com"}
    )
    assert_problem(resp, 404)


def test_put_taking_another_employees_email_is_409(
    client: testing.TestClient,
) -> None:
    create_employee(client, "taken@example.com")
    ada = create_employee(client, "ada@example.com")
    resp = client.simulate_put(
        f"/v1/employees/{ada['id']}", json={"name": "Ada", "email": "TAKEN@example.com"}
    )
    assert_problem(resp, 409)
    assert client.simulate_get(f"/v1/employees/{ada['id']}").json == ada


def test_put_with_an_unknown_manager_id_is_422_naming_manager_id(
    client: testing.TestClient,
) -> None:
    ada = create_employee(client, "ada@example.com")
    resp = client.simulate_put(
        f"/v1/employees/{ada['id']}",
        json={"name": "Ada", "email": "ada@example.com", "manager_id": 999},
    )
    assert_problem(resp, 422, fields={"manager_id"})


def test_put_rejects_server_owned_fields(client: testing.TestClient) -> None:
    ada = create_employee(client, "ada@example.com")
    resp = client.simulate_put(
        f"/v1/employees/{ada['id']}",
        json={"name": "Ada", "email": "ada@example.com", "version": 7},
    )
    assert_problem(resp, 422, fields={"version"})


# Merge patch (PATCH)


def test_patch_changes_only_the_fields_sent(
    clocked_client: testing.TestClient, clock: ManualClock
) -> None:
    created = create_employee(
        clocked_client, "ada@example.com", title="Engineer", department="R&D"
    )
    clock.advance(5)
    resp = clocked_client.simulate_patch(
        f"/v1/employees/{created['id']}", json={"title": "Lead Engineer"}
    )
    assert resp.status_code == 200
    assert resp.json == {
        **created,
        "title": "Lead Engineer",
        "version": 2,
        "updated_at": "2026-11-26T03:00:05Z",
    }
    assert resp.headers["ETag"] == f'"{created["id"]}-2"'


def test_patch_with_null_clears_an_optional_field(client: testing.TestClient) -> None:
    boss = create_manager(client, "grace@example.com")
    created = create_employee(
        client,
        "ada@example.com",
        title="Engineer",
        department="R&D",
        manager_id=boss["id"],
    )
    resp = client.simulate_patch(
        f"/v1/employees/{created['id']}",
        json={"title": None, "manager_id": None},
    )
    assert resp.status_code == 200
    assert resp.json["title"] is None
    assert resp.json["manager_id"] is None
    assert resp.json["department"] == "R&D"
    assert resp.json["version"] == 2


def test_patch_accepts_merge_patch_json(client: testing.TestClient) -> None:
    created = create_employee(client, "ada@example.com")
    resp = client.simulate_patch(
        f"/v1/employees/{created['id']}",
        body='{"department": "R&D"}',
        headers=MERGE_PATCH,
    )
    assert resp.status_code == 200
    assert resp.json["department"] == "R&D"


def test_an_empty_patch_changes_nothing(
    clocked_client: testing.TestClient, clock: ManualClock
) -> None:
    created = create_employee(clocked_client, "ada@example.com")
    clock.advance(60)
    resp = clocked_client.simulate_patch(
        f"/v1/employees/{created['id']}", body="{}", headers=MERGE_PATCH
    )
    assert resp.status_code == 200
    assert resp.json == created
    assert resp.headers["ETag"] == f'"{created["id"]}-1"'


def test_a_patch_with_the_current_values_changes_nothing(
    clocked_client: testing.TestClient, clock: ManualClock
) -> None:
    created = create_employee(clocked_client, "ada@example.com", title="Engineer")
    clock.advance(60)
    resp = clocked_client.simulate_patch(
        f"/v1/employees/{created['id']}",
        json={
            "name": " Ada Lovelace ",
            "email": "Ada@Example.com",
            "title": "Engineer",
        },
    )
    assert resp.status_code == 200
    assert resp.json == created


def test_patch_trims_the_name_and_lower_cases_the_email(
    client: testing.TestClient,
) -> None:
    created = create_employee(client, "ada@example.com")
    resp = client.simulate_patch(
        f"/v1/employees/{created['id']}",
        json={"name": "  Augusta Ada  ", "email": "AUGUSTA@example.com"},
    )
    assert resp.json["name"] == "Augusta Ada"
    assert resp.json["email"] == "augusta@example.com"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"name": None}, "name"),
        ({"email": None}, "email"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"title": "t" * 101}, "title"),
        ({"department": 3}, "department"),
        ({"manager_id": "7"}, "manager_id"),
        ({"id": 9}, "id"),
        ({"version": 9}, "version"),
        ({"created_at": "2026-01-01T00:00:00Z"}, "created_at"),
        ({"updated_at": "2026-01-01T00:00:00Z"}, "updated_at"),
    ],
)
def test_an_invalid_patch_is_422_naming_the_field_and_changes_nothing(
    client: testing.TestClient, patch: dict[str, object], field: str
) -> None:
    created = create_employee(client, "ada@example.com")
    resp = client.simulate_patch(f"/v1/employees/{created['id']}", json=patch)
    assert_problem(resp, 422, fields={field})
    assert client.simulate_get(f"/v1/employees/{created['id']}").json == created


def test_patch_with_an_unknown_manager_id_is_422_naming_manager_id(
    client: testing.TestClient,
) -> None:
    created = create_employee(client, "ada@example.com")
    resp = client.simulate_patch(
        f"/v1/employees/{created['id']}", json={"manager_id": 424242}
    )
    assert_problem(resp, 422, fields={"manager_id"})


def test_patch_taking_another_employees_email_is_409(
    client: testing.TestClient,
) -> None:
    create_employee(client, "taken@example.com")
    ada = create_employee(client, "ada@example.com")
    resp = client.simulate_patch(
        f"/v1/employees/{ada['id']}", json={"email": "Taken@Example.com"}
    )
    assert_problem(resp, 409)
    assert client.simulate_get(f"/v1/employees/{ada['id']}").json == ada


def test_patch_of_an_absent_employee_is_404(client: testing.TestClient) -> None:
    assert_problem(client.simulate_patch("/v1/employees/999", json={}), 404)


# Delete


def test_delete_answers_204_and_the_employee_is_gone(
    client: testing.TestClient,
) -> None:
    created = create_employee(client, "ada@example.com")
    resp = client.simulate_delete(f"/v1/employees/{created['id']}")
    assert resp.status_code == 204
    assert resp.content == b""
    assert_problem(client.simulate_get(f"/v1/employees/{created['id']}"), 404)
    assert_problem(client.simulate_delete(f"/v1/employees/{created['id']}"), 404)


def test_deleting_an_absent_employee_is_404(client: testing.TestClient) -> None:
    assert_problem(client.simulate_delete("/v1/employees/999"), 404)


def test_a_deleted_employees_email_can_be_used_again(
    client: testing.TestClient,
) -> None:
    created = create_employee(client, "ada@example.com")
    client.simulate_delete(f"/v1/employees/{created['id']}")
    again = create_employee(client, "ada@example.com")
    assert again["id"] != created["id"]


def test_an_integral_json_number_is_an_integer_and_a_fraction_is_not(
    client: testing.TestClient,
) -> None:
    """JSON Schema's integer includes 5.0 and 5e0; 5.5 is no id."""
    boss = client.simulate_post(
        "/v1/managers", json={"name": "B", "email": "b@example.com"}
    ).json
    created = client.simulate_post(
        "/v1/employees",
        body=f'{{"name": "E", "email": "e@example.com", "manager_id": {boss["id"]}.0}}',
        headers={"Content-Type": "application/json"},
    )
    assert created.status_code == 201, created.json
    assert created.json["manager_id"] == boss["id"]
    fraction = client.simulate_post(
        "/v1/employees",
        body=f'{{"name": "F", "email": "f@example.com", "manager_id": {boss["id"]}.5}}',
        headers={"Content-Type": "application/json"},
    )
    assert fraction.status_code == 422
    assert fraction.json["errors"][0]["field"] == "manager_id"

"""ETags, If-None-Match on reads and If-Match on every kind of write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from falcon import testing

from tests.http.support import assert_problem, create_employee, create_manager

Write = Callable[[testing.TestClient, dict[str, Any], dict[str, str]], testing.Result]


def etag_of(client: testing.TestClient, path: str) -> str:
    etag: str = client.simulate_get(path).headers["ETag"]
    return etag


# ETags


def test_etags_are_strong_and_change_whenever_the_record_does(
    client: testing.TestClient,
) -> None:
    ada = create_employee(client, "ada@example.com")
    path = f"/v1/employees/{ada['id']}"
    before = etag_of(client, path)
    assert before.startswith('"')
    assert before.endswith('"')
    patched = client.simulate_patch(path, json={"title": "Engineer"})
    assert patched.headers["ETag"] != before
    assert etag_of(client, path) == patched.headers["ETag"]


def test_records_of_different_ids_have_different_etags(
    client: testing.TestClient,
) -> None:
    a = create_employee(client, "a@example.com")
    b = create_employee(client, "b@example.com")
    assert etag_of(client, f"/v1/employees/{a['id']}") != etag_of(
        client, f"/v1/employees/{b['id']}"
    )


# If-None-Match


@pytest.mark.parametrize("kind", ["employees", "managers"])
def test_a_matching_if_none_match_is_304_with_the_same_etag_and_no_body(
    client: testing.TestClient, kind: str
) -> None:
    create = create_employee if kind == "employees" else create_manager
    record = create(client, "x@example.com")
    path = f"/v1/{kind}/{record['id']}"
    etag = etag_of(client, path)
    resp = client.simulate_get(path, headers={"If-None-Match": etag})
    assert resp.status_code == 304
    assert resp.headers["ETag"] == etag
    assert resp.content == b""


def test_if_none_match_with_a_list_containing_the_etag_is_304(
    client: testing.TestClient,
) -> None:
    ada = create_employee(client, "ada@example.com")
    path = f"/v1/employees/{ada['id']}"
    etag = etag_of(client, path)
    resp = client.simulate_get(path, headers={"If-None-Match": f'"nope", {etag}'})
    assert resp.status_code == 304


def test_if_none_match_compares_weakly(client: testing.TestClient) -> None:
    ada = create_employee(client, "ada@example.com")
    path = f"/v1/employees/{ada['id']}"
    resp = client.simulate_get(
        path, headers={"If-None-Match": f"W/{etag_of(client, path)}"}
    )
    assert resp.status_code == 304


def test_a_stale_if_none_match_gets_the_full_body(client: testing.TestClient) -> None:
    ada = create_employee(client, "ada@example.com")
    path = f"/v1/employees/{ada['id']}"
    stale = etag_of(client, path)
    client.simulate_patch(path, json={"title": "Engineer"})
    resp = client.simulate_get(path, headers={"If-None-Match": stale})
    assert resp.status_code == 200
    assert resp.json["title"] == "Engineer"
    assert resp.headers["ETag"] != stale


def test_if_none_match_of_an_absent_record_is_404(client: testing.TestClient) -> None:
    resp = client.simulate_get("/v1/employees/9", headers={"If-None-Match": '"9-1"'})
    assert_problem(resp, 404)


# If-Match on writes: every write the contract lets a client make conditional.


def put_employee(
    client: testing.TestClient, emp: dict[str, Any], headers: dict[str, str]
) -> testing.Result:
    return client.simulate_put(
        f"/v1/employees/{emp['id']}",
        json={"name": "Renamed", "email": emp["email"]},
        headers=headers,
    )


def patch_employee(
    client: testing.TestClient, emp: dict[str, Any], headers: dict[str, str]
) -> testing.Result:
    return client.simulate_patch(
        f"/v1/employees/{emp['id']}", json={"name": "Renamed"}, headers=headers
    )


def delete_employee(
    client: testing.TestClient, emp: dict[str, Any], headers: dict[str, str]
) -> testing.Result:
    return client.simulate_delete(f"/v1/employees/{emp['id']}", headers=headers)


def join_team(
    client: testing.TestClient, emp: dict[str, Any], headers: dict[str, str]
) -> testing.Result:
    grace = create_manager(client, "joiner@example.com")
    return client.simulate_put(
        f"/v1/managers/{grace['id']}/employees/{emp['id']}", headers=headers
    )


def leave_team(
    client: testing.TestClient, emp: dict[str, Any], headers: dict[str, str]
) -> testing.Result:
    return client.simulate_delete(
        f"/v1/managers/{emp['manager_id']}/employees/{emp['id']}", headers=headers
    )


WRITES: dict[str, tuple[Write, int]] = {
    "put": (put_employee, 200),
    "patch": (patch_employee, 200),
    "delete": (delete_employee, 204),
    "join": (join_team, 200),
    "leave": (leave_team, 204),
}


@pytest.fixture
def subject(
    client: testing.TestClient, request: pytest.FixtureRequest
) -> dict[str, Any]:
    """An employee at version 2, so an ETag of version 1 is stale.

    For "leave" the employee sits in a team; otherwise in none (so join works).
    """
    ada = create_employee(client, "ada@example.com")
    if request.node.callspec.params.get("write") == "leave":
        grace = create_manager(client, "grace@example.com")
        resp = client.simulate_put(f"/v1/managers/{grace['id']}/employees/{ada['id']}")
    else:
        resp = client.simulate_patch(
            f"/v1/employees/{ada['id']}", json={"title": "Engineer"}
        )
    assert resp.json["version"] == 2
    body: dict[str, Any] = resp.json
    return body


@pytest.mark.parametrize("write", list(WRITES))
def test_a_stale_if_match_is_412_and_changes_nothing(
    client: testing.TestClient, subject: dict[str, Any], write: str
) -> None:
    do, _ = WRITES[write]
    stale = f'"{subject["id"]}-1"'
    assert_problem(do(client, subject, {"If-Match": stale}), 412)
    after = client.simulate_get(f"/v1/employees/{subject['id']}")
    assert after.json == subject


@pytest.mark.parametrize("write", list(WRITES))
def test_a_weak_if_match_never_matches(
    client: testing.TestClient, subject: dict[str, Any], write: str
) -> None:
    do, _ = WRITES[write]
    current = etag_of(client, f"/v1/employees/{subject['id']}")
    assert_problem(do(client, subject, {"If-Match": f"W/{current}"}), 412)
    assert client.simulate_get(f"/v1/employees/{subject['id']}").json == subject


@pytest.mark.parametrize("write", list(WRITES))
def test_a_current_if_match_lets_the_write_proceed(
    client: testing.TestClient, subject: dict[str, Any], write: str
) -> None:
    do, status = WRITES[write]
    current = etag_of(client, f"/v1/employees/{subject['id']}")
    assert do(client, subject, {"If-Match": current}).status_code == status


@pytest.mark.parametrize("write", list(WRITES))
def test_the_current_tag_without_its_quotes_is_read_as_if_quoted(
    client: testing.TestClient, subject: dict[str, Any], write: str
) -> None:
    do, status = WRITES[write]
    current = etag_of(client, f"/v1/employees/{subject['id']}").strip('"')
    assert do(client, subject, {"If-Match": current}).status_code == status


@pytest.mark.parametrize("header", [",", " , ,", "garbage, junk"])
def test_an_if_match_with_no_tag_in_it_matches_nothing(
    client: testing.TestClient, subject: dict[str, Any], header: str
) -> None:
    do, _ = WRITES["patch"]
    assert_problem(do(client, subject, {"If-Match": header}), 412)


@pytest.mark.parametrize("write", list(WRITES))
def test_if_match_star_matches_an_existing_record(
    client: testing.TestClient, subject: dict[str, Any], write: str
) -> None:
    do, status = WRITES[write]
    assert do(client, subject, {"If-Match": "*"}).status_code == status


@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_without_if_match_proceeds(
    client: testing.TestClient, subject: dict[str, Any], write: str
) -> None:
    do, status = WRITES[write]
    assert do(client, subject, {}).status_code == status


@pytest.mark.parametrize("write", ["put", "patch", "delete"])
def test_if_match_listing_the_current_etag_among_others_matches(
    client: testing.TestClient, subject: dict[str, Any], write: str
) -> None:
    do, status = WRITES[write]
    current = etag_of(client, f"/v1/employees/{subject['id']}")
    header = f'"{subject["id"]}-1", {current}'
    assert do(client, subject, {"If-Match": header}).status_code == status


@pytest.mark.parametrize("header", ['"2-2"', "2-2", '"2-2x"', '"-2"', '""', "garbage"])
def test_an_if_match_naming_no_current_etag_is_412(
    client: testing.TestClient, header: str
) -> None:
    # Employee 1 at version 2: a tag of another record or a malformed one fails.
    ada = create_employee(client, "ada@example.com")
    create_employee(client, "bob@example.com")
    client.simulate_patch(f"/v1/employees/{ada['id']}", json={"title": "T"})
    resp = client.simulate_patch(
        f"/v1/employees/{ada['id']}", json={"title": "U"}, headers={"If-Match": header}
    )
    assert_problem(resp, 412)


def test_the_etag_of_a_successful_conditional_write_is_the_new_one(
    client: testing.TestClient,
) -> None:
    ada = create_employee(client, "ada@example.com")
    path = f"/v1/employees/{ada['id']}"
    first = client.simulate_patch(
        path, json={"title": "A"}, headers={"If-Match": etag_of(client, path)}
    )
    second = client.simulate_patch(
        path, json={"title": "B"}, headers={"If-Match": first.headers["ETag"]}
    )
    assert second.status_code == 200
    assert_problem(
        client.simulate_patch(
            path, json={"title": "C"}, headers={"If-Match": first.headers["ETag"]}
        ),
        412,
    )


def test_manager_writes_check_if_match_too(client: testing.TestClient) -> None:
    grace = create_manager(client, "grace@example.com")
    path = f"/v1/managers/{grace['id']}"
    stale = etag_of(client, path)
    client.simulate_patch(path, json={"department": "R&D"})
    body = {"name": "G", "email": "grace@example.com"}
    assert_problem(
        client.simulate_put(path, json=body, headers={"If-Match": stale}), 412
    )
    assert_problem(
        client.simulate_patch(path, json={}, headers={"If-Match": stale}), 412
    )
    assert_problem(client.simulate_delete(path, headers={"If-Match": stale}), 412)
    assert client.simulate_get(path).json["department"] == "R&D"
    current = etag_of(client, path)
    assert (
        client.simulate_delete(path, headers={"If-Match": current}).status_code == 204
    )


# A stale If-Match wins over a would-be 409.


def test_stale_if_match_beats_a_duplicate_email_on_put_and_patch(
    client: testing.TestClient,
) -> None:
    create_employee(client, "taken@example.com")
    ada = create_employee(client, "ada@example.com")
    stale = {"If-Match": f'"{ada["id"]}-0"'}
    path = f"/v1/employees/{ada['id']}"
    put = client.simulate_put(
        path, json={"name": "Ada", "email": "taken@example.com"}, headers=stale
    )
    assert_problem(put, 412)
    patch = client.simulate_patch(
        path, json={"email": "taken@example.com"}, headers=stale
    )
    assert_problem(patch, 412)


def test_stale_if_match_beats_joining_while_in_another_team(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    alan = create_manager(client, "alan@example.com")
    ada = create_employee(client, "ada@example.com", manager_id=grace["id"])
    resp = client.simulate_put(
        f"/v1/managers/{alan['id']}/employees/{ada['id']}",
        headers={"If-Match": f'"{ada["id"]}-0"'},
    )
    assert_problem(resp, 412)


def test_stale_if_match_beats_deleting_a_manager_with_employees(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    create_employee(client, "ada@example.com", manager_id=grace["id"])
    resp = client.simulate_delete(
        f"/v1/managers/{grace['id']}", headers={"If-Match": f'"{grace["id"]}-0"'}
    )
    assert_problem(resp, 412)
    assert client.simulate_get(f"/v1/managers/{grace['id']}").status_code == 200


def test_joining_with_if_match_star_while_in_another_team_is_still_409(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    alan = create_manager(client, "alan@example.com")
    ada = create_employee(client, "ada@example.com", manager_id=grace["id"])
    resp = client.simulate_put(
        f"/v1/managers/{alan['id']}/employees/{ada['id']}", headers={"If-Match": "*"}
    )
    assert_problem(resp, 409)


def test_a_conditional_write_to_an_absent_record_is_404(
    client: testing.TestClient,
) -> None:
    body = {"name": "Ada", "email": "ada@example.com"}
    for headers in ({"If-Match": "*"}, {"If-Match": '"9-1"'}):
        assert_problem(
            client.simulate_put("/v1/employees/9", json=body, headers=headers), 404
        )
        assert_problem(client.simulate_delete("/v1/employees/9", headers=headers), 404)


def test_an_if_match_version_too_long_for_any_record_simply_does_not_match(
    client: testing.TestClient,
) -> None:
    ada = create_employee(client, "ada@example.com")
    path = f"/v1/employees/{ada['id']}"
    huge = f'"{ada["id"]}-{"9" * 5000}"'
    assert_problem(
        client.simulate_patch(path, json={}, headers={"If-Match": huge}), 412
    )

"""Lists: limits, keyset cursors, the Link header, filters, query validation."""

from __future__ import annotations

import pytest
from falcon import testing

from tests.http.support import (
    assert_problem,
    create_employee,
    create_manager,
    ids,
    next_link,
)


def seed_employees(client: testing.TestClient, count: int) -> list[int]:
    return [
        create_employee(client, f"person{i}@example.com", name=f"Person {i}")["id"]
        for i in range(count)
    ]


def walk(client: testing.TestClient, path: str, limit: int) -> list[list[int]]:
    """Every page by following next_cursor; the ids of each page."""
    pages = []
    params = {"limit": str(limit)}
    while True:
        page = client.simulate_get(path, params=params)
        assert page.status_code == 200
        pages.append(ids(page))
        cursor = page.json["next_cursor"]
        if cursor is None:
            return pages
        params = {"limit": str(limit), "cursor": cursor}


# Limits


def test_the_default_limit_is_50(client: testing.TestClient) -> None:
    seeded = seed_employees(client, 51)
    first = client.simulate_get("/v1/employees")
    assert ids(first) == seeded[:50]
    assert first.json["next_cursor"] is not None
    second = client.simulate_get(
        "/v1/employees", params={"cursor": first.json["next_cursor"]}
    )
    assert ids(second) == seeded[50:]
    assert second.json["next_cursor"] is None


def test_a_limit_of_500_returns_500_rows(client: testing.TestClient) -> None:
    seeded = seed_employees(client, 501)
    page = client.simulate_get("/v1/employees", params={"limit": "500"})
    assert page.status_code == 200
    assert ids(page) == seeded[:500]
    assert page.json["next_cursor"] is not None


def test_a_limit_of_1_returns_one_row(client: testing.TestClient) -> None:
    seeded = seed_employees(client, 2)
    page = client.simulate_get("/v1/employees", params={"limit": "1"})
    assert ids(page) == seeded[:1]


@pytest.mark.parametrize(
    "limit", ["0", "501", "abc", "1.5", "-1", "", "%205", "1e2", "%EF%BC%95"]
)
def test_a_limit_outside_1_to_500_or_not_an_integer_is_422_naming_limit(
    client: testing.TestClient, limit: str
) -> None:
    resp = client.simulate_get("/v1/employees", query_string=f"limit={limit}")
    assert_problem(resp, 422, fields={"limit"})


# Ordering and cursors


def test_rows_are_ordered_by_id_ascending(client: testing.TestClient) -> None:
    seeded = seed_employees(client, 5)
    # Edits must not reorder the list.
    client.simulate_patch(f"/v1/employees/{seeded[0]}", json={"name": "Zed"})
    page = client.simulate_get("/v1/employees")
    assert ids(page) == sorted(seeded)


def test_walking_the_cursors_visits_every_row_once(client: testing.TestClient) -> None:
    seeded = seed_employees(client, 7)
    pages = walk(client, "/v1/employees", 3)
    assert pages == [seeded[0:3], seeded[3:6], seeded[6:7]]


def test_next_cursor_is_null_exactly_when_no_rows_follow(
    client: testing.TestClient,
) -> None:
    seeded = seed_employees(client, 4)
    first = client.simulate_get("/v1/employees", params={"limit": "2"})
    assert first.json["next_cursor"] is not None
    # The last page is exactly full: still no next page.
    last = client.simulate_get(
        "/v1/employees", params={"limit": "2", "cursor": first.json["next_cursor"]}
    )
    assert ids(last) == seeded[2:]
    assert last.json["next_cursor"] is None
    assert "Link" not in last.headers
    everything = client.simulate_get("/v1/employees", params={"limit": "4"})
    assert everything.json["next_cursor"] is None


def test_next_cursor_is_null_when_the_following_rows_do_not_match_the_filter(
    client: testing.TestClient,
) -> None:
    a = create_employee(client, "a@example.com", department="Sales")
    b = create_employee(client, "b@example.com", department="Sales")
    create_employee(client, "c@example.com", department="R&D")
    page = client.simulate_get(
        "/v1/employees", params={"department": "Sales", "limit": "2"}
    )
    assert ids(page) == [a["id"], b["id"]]
    assert page.json["next_cursor"] is None


def test_an_empty_list_is_an_empty_page(client: testing.TestClient) -> None:
    page = client.simulate_get("/v1/employees")
    assert page.status_code == 200
    assert page.json == {"items": [], "next_cursor": None}
    assert "Link" not in page.headers


def test_an_empty_cursor_means_the_first_page(client: testing.TestClient) -> None:
    seed_employees(client, 3)
    plain = client.simulate_get("/v1/employees", query_string="limit=2")
    empty = client.simulate_get("/v1/employees", query_string="limit=2&cursor=")
    assert empty.status_code == 200
    assert empty.json == plain.json


@pytest.mark.parametrize(
    "cursor",
    ["!!!", "abc", "YWJj", "YzE6", "YzE6eA", "YzE6LTE", "1", "%00", "Yz" * 40],
)
def test_a_malformed_cursor_is_422_naming_cursor(
    client: testing.TestClient, cursor: str
) -> None:
    resp = client.simulate_get("/v1/employees", query_string=f"cursor={cursor}")
    assert_problem(resp, 422, fields={"cursor"})


def test_deleting_rows_between_fetches_neither_repeats_nor_skips_rows(
    client: testing.TestClient,
) -> None:
    seeded = seed_employees(client, 6)
    first = client.simulate_get("/v1/employees", params={"limit": "2"})
    assert ids(first) == seeded[:2]
    # Delete a row already seen, and the very row the cursor points after.
    client.simulate_delete(f"/v1/employees/{seeded[0]}")
    client.simulate_delete(f"/v1/employees/{seeded[1]}")
    second = client.simulate_get(
        "/v1/employees", params={"limit": "2", "cursor": first.json["next_cursor"]}
    )
    assert ids(second) == seeded[2:4]


def test_rows_deleted_or_inserted_ahead_of_the_cursor_are_seen_as_they_are(
    client: testing.TestClient,
) -> None:
    seeded = seed_employees(client, 4)
    first = client.simulate_get("/v1/employees", params={"limit": "2"})
    client.simulate_delete(f"/v1/employees/{seeded[2]}")
    added = create_employee(client, "late@example.com")["id"]
    second = client.simulate_get(
        "/v1/employees", params={"limit": "2", "cursor": first.json["next_cursor"]}
    )
    assert ids(second) == [seeded[3], added]
    assert second.json["next_cursor"] is None


# The Link header


def test_a_link_header_points_at_the_next_page_as_a_path_and_query(
    client: testing.TestClient,
) -> None:
    seeded = seed_employees(client, 5)
    first = client.simulate_get("/v1/employees", params={"limit": "2"})
    link = next_link(first)
    assert link is not None
    assert link.startswith("/v1/employees?")
    second = client.simulate_get(link)
    assert second.status_code == 200
    assert ids(second) == seeded[2:4]
    by_cursor = client.simulate_get(
        "/v1/employees", params={"limit": "2", "cursor": first.json["next_cursor"]}
    )
    assert second.json == by_cursor.json
    third = client.simulate_get(next_link(second) or "")
    assert ids(third) == seeded[4:]
    assert next_link(third) is None


def test_the_link_header_keeps_the_filters(client: testing.TestClient) -> None:
    wanted = [
        create_employee(client, f"rd{i}@example.com", department="R&D")["id"]
        for i in range(3)
    ]
    create_employee(client, "sales@example.com", department="Sales")
    first = client.simulate_get(
        "/v1/employees", params={"department": "R&D", "limit": "2"}
    )
    assert ids(first) == wanted[:2]
    second = client.simulate_get(next_link(first) or "")
    assert ids(second) == wanted[2:]


def test_the_manager_list_is_paged_too(client: testing.TestClient) -> None:
    seeded = [create_manager(client, f"m{i}@example.com")["id"] for i in range(3)]
    first = client.simulate_get("/v1/managers", params={"limit": "2"})
    assert ids(first) == seeded[:2]
    link = next_link(first)
    assert link is not None
    assert link.startswith("/v1/managers?")
    second = client.simulate_get(link)
    assert ids(second) == seeded[2:]
    assert second.json["next_cursor"] is None


# Filters


def test_employees_filter_by_manager_id(client: testing.TestClient) -> None:
    grace = create_manager(client, "grace@example.com")
    alan = create_manager(client, "alan@example.com")
    a = create_employee(client, "a@example.com", manager_id=grace["id"])
    create_employee(client, "b@example.com", manager_id=alan["id"])
    create_employee(client, "c@example.com")
    page = client.simulate_get("/v1/employees", params={"manager_id": grace["id"]})
    assert page.json == {"items": [a], "next_cursor": None}


def test_employees_filter_by_department_exactly_and_case_sensitively(
    client: testing.TestClient,
) -> None:
    exact = create_employee(client, "a@example.com", department="R&D")
    create_employee(client, "b@example.com", department="r&d")
    create_employee(client, "c@example.com", department="R&D Labs")
    create_employee(client, "d@example.com")
    page = client.simulate_get("/v1/employees", params={"department": "R&D"})
    assert ids(page) == [exact["id"]]
    assert client.simulate_get("/v1/employees?department=R").json["items"] == []


def test_q_matches_a_substring_of_the_name_case_insensitively(
    client: testing.TestClient,
) -> None:
    ada = create_employee(client, "one@example.com", name="Ada Lovelace")
    create_employee(client, "two@example.com", name="Grace Hopper")
    page = client.simulate_get("/v1/employees", params={"q": "LOVEL"})
    assert ids(page) == [ada["id"]]


def test_q_matches_a_substring_of_the_email_case_insensitively(
    client: testing.TestClient,
) -> None:
    create_employee(client, "ada@example.com", name="First")
    grace = create_employee(client, "grace@navy.example", name="Second")
    page = client.simulate_get("/v1/employees", params={"q": "NAVY.EX"})
    assert ids(page) == [grace["id"]]


def test_q_uses_unicode_case_folding(client: testing.TestClient) -> None:
    strasse = create_employee(client, "s@example.com", name="Hauptstraße")
    create_employee(client, "t@example.com", name="Hauptstrase")
    assert ids(client.simulate_get("/v1/employees", params={"q": "STRASSE"})) == [
        strasse["id"]
    ]
    assert ids(client.simulate_get("/v1/employees", params={"q": "straße"})) == [
        strasse["id"]
    ]
    sigma = create_employee(client, "o@example.com", name="ΟΔΥΣΣΕΥΣ")
    assert ids(client.simulate_get("/v1/employees", params={"q": "οδυσσευς"})) == [
        sigma["id"]
    ]


def test_percent_and_underscore_in_q_are_literal_characters(
    client: testing.TestClient,
) -> None:
    percent = create_employee(client, "p@example.com", name="100% Sure")
    underscore = create_employee(client, "u@example.com", name="snake_case")
    create_employee(client, "x@example.com", name="Plain Name")
    create_employee(client, "y@example.com", name="snakeXcase")
    assert ids(client.simulate_get("/v1/employees", params={"q": "%"})) == [
        percent["id"]
    ]
    assert ids(client.simulate_get("/v1/employees", params={"q": "_"})) == [
        underscore["id"]
    ]
    assert ids(client.simulate_get("/v1/employees", params={"q": "snake_"})) == [
        underscore["id"]
    ]


def test_filters_combine(client: testing.TestClient) -> None:
    both = create_employee(client, "a@example.com", name="Ada", department="R&D")
    create_employee(client, "b@example.com", name="Ada", department="Sales")
    create_employee(client, "c@example.com", name="Bob", department="R&D")
    page = client.simulate_get(
        "/v1/employees", params={"q": "ada", "department": "R&D"}
    )
    assert ids(page) == [both["id"]]


def test_managers_filter_by_department_and_q(client: testing.TestClient) -> None:
    grace = create_manager(client, "grace@example.com", name="Grace", department="R&D")
    create_manager(client, "alan@example.com", name="Alan", department="R&D")
    create_manager(client, "gill@example.com", name="Gill", department="r&d")
    by_department = client.simulate_get("/v1/managers", params={"department": "R&D"})
    assert len(by_department.json["items"]) == 2
    both = client.simulate_get("/v1/managers", params={"department": "R&D", "q": "GRA"})
    assert ids(both) == [grace["id"]]


# Invalid query parameters


def test_an_unknown_query_parameter_is_422_naming_it(
    client: testing.TestClient,
) -> None:
    resp = client.simulate_get("/v1/employees", query_string="sort=name")
    assert_problem(resp, 422, fields={"sort"})


def test_managers_have_no_manager_id_filter(client: testing.TestClient) -> None:
    resp = client.simulate_get("/v1/managers", query_string="manager_id=1")
    assert_problem(resp, 422, fields={"manager_id"})


@pytest.mark.parametrize(
    "query",
    ["limit=1&limit=2", "q=a&q=b", "cursor=&cursor=", "department=a&department=a"],
)
def test_a_repeated_query_parameter_is_422_naming_it(
    client: testing.TestClient, query: str
) -> None:
    resp = client.simulate_get("/v1/employees", query_string=query)
    assert_problem(resp, 422, fields={query.partition("=")[0]})


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.0", ""])
def test_an_invalid_manager_id_filter_is_422_naming_it(
    client: testing.TestClient, value: str
) -> None:
    resp = client.simulate_get("/v1/employees", query_string=f"manager_id={value}")
    assert_problem(resp, 422, fields={"manager_id"})


def test_every_invalid_query_parameter_is_named_at_once(
    client: testing.TestClient,
) -> None:
    resp = client.simulate_get(
        "/v1/employees",
        query_string="limit=501&cursor=nope&manager_id=x&colour=red&q=a&q=b",
    )
    assert_problem(resp, 422, fields={"limit", "cursor", "manager_id", "colour", "q"})

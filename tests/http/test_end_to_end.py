"""Representative sequences over HTTP against every storage adapter."""

from __future__ import annotations

import pytest
from falcon import testing

from tests.http.support import (
    RFC3339_UTC,
    assert_problem,
    create_employee,
    create_manager,
    ids,
    next_link,
)


def test_a_team_lifecycle_works_on_every_store(any_client: testing.TestClient) -> None:
    c = any_client
    grace = create_manager(
        c, "Grace@Example.com", name=" Grace Hopper ", department="R&D"
    )
    assert grace["email"] == "grace@example.com"
    assert grace["name"] == "Grace Hopper"
    assert RFC3339_UTC.fullmatch(grace["created_at"])

    created = c.simulate_post(
        "/v1/employees",
        json={"name": "Ada Lovelace", "email": "ada@example.com", "title": "Engineer"},
    )
    assert created.status_code == 201
    ada = created.json
    path = created.headers["Location"]
    assert path == f"/v1/employees/{ada['id']}"
    assert RFC3339_UTC.fullmatch(ada["created_at"])
    assert RFC3339_UTC.fullmatch(ada["updated_at"])

    fetched = c.simulate_get(path)
    assert fetched.json == ada
    etag = fetched.headers["ETag"]
    not_modified = c.simulate_get(path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.headers["ETag"] == etag

    assert_problem(
        c.simulate_post(
            "/v1/employees", json={"name": "Dup", "email": "ADA@example.com"}
        ),
        409,
    )
    assert_problem(
        c.simulate_post(
            "/v1/employees",
            json={
                "name": "X",
                "email": "x@example.com",
                "manager_id": grace["id"] + 99,
            },
        ),
        422,
        fields={"manager_id"},
    )

    joined = c.simulate_put(
        f"/v1/managers/{grace['id']}/employees/{ada['id']}", headers={"If-Match": etag}
    )
    assert joined.status_code == 200
    assert joined.json["manager_id"] == grace["id"]
    assert joined.json["version"] == 2
    rejoined = c.simulate_put(f"/v1/managers/{grace['id']}/employees/{ada['id']}")
    assert rejoined.json == joined.json
    assert rejoined.headers["ETag"] == joined.headers["ETag"]
    team = c.simulate_get(f"/v1/managers/{grace['id']}/employees")
    assert team.json == {"items": [joined.json], "next_cursor": None}

    assert_problem(c.simulate_delete(f"/v1/managers/{grace['id']}"), 409)
    assert_problem(
        c.simulate_patch(path, json={"title": "X"}, headers={"If-Match": etag}), 412
    )

    patched = c.simulate_patch(
        path,
        body='{"title": null, "department": "R&D"}',
        headers={
            "Content-Type": "application/merge-patch+json",
            "If-Match": joined.headers["ETag"],
        },
    )
    assert patched.status_code == 200
    assert patched.json["title"] is None
    assert patched.json["department"] == "R&D"
    assert patched.json["manager_id"] == grace["id"]
    assert patched.json["version"] == 3

    empty = c.simulate_patch(path, json={})
    assert empty.json == patched.json
    assert empty.headers["ETag"] == patched.headers["ETag"]

    replaced = c.simulate_put(
        path, json={"name": "Ada King", "email": "ada@example.com"}
    )
    assert replaced.status_code == 200
    assert replaced.json["manager_id"] is None
    assert replaced.json["department"] is None
    assert replaced.json["version"] == 4
    assert_problem(
        c.simulate_delete(f"/v1/managers/{grace['id']}/employees/{ada['id']}"), 404
    )

    c.simulate_put(f"/v1/managers/{grace['id']}/employees/{ada['id']}")
    left = c.simulate_delete(f"/v1/managers/{grace['id']}/employees/{ada['id']}")
    assert left.status_code == 204
    assert c.simulate_get(path).json["version"] == 6

    assert c.simulate_delete(f"/v1/managers/{grace['id']}").status_code == 204
    assert c.simulate_delete(path, headers={"If-Match": "*"}).status_code == 204
    assert_problem(c.simulate_get(path), 404)
    assert_problem(c.simulate_get(f"/v1/managers/{grace['id']}/employees"), 404)


def test_lists_page_and_filter_alike_on_every_store(
    any_client: testing.TestClient,
) -> None:
    c = any_client
    grace = create_manager(c, "grace@example.com")
    doomed = create_employee(c, "doomed@example.com", name="Doomed")
    rows = [
        create_employee(c, "a_1@example.com", name="Hauptstraße", department="R&D"),
        create_employee(c, "b@example.com", name="100% Pure", department="r&d"),
        create_employee(c, "c@example.com", name="Plain", manager_id=grace["id"]),
        create_employee(c, "d@example.com", name="ΟΔΥΣΣΕΥΣ", department="R&D"),
        create_employee(c, "e@example.com", name="Another", manager_id=grace["id"]),
    ]
    every = [row["id"] for row in rows]

    first = c.simulate_get("/v1/employees", params={"limit": "2"})
    assert ids(first) == [doomed["id"], every[0]]
    link = next_link(first)
    assert link is not None
    second = c.simulate_get(link)
    assert ids(second) == every[1:3]
    # A row behind the cursor goes away: the same page comes back unchanged.
    c.simulate_delete(f"/v1/employees/{doomed['id']}")
    assert c.simulate_get(link).json == second.json
    last = c.simulate_get(next_link(second) or "")
    assert ids(last) == every[3:]
    assert last.json["next_cursor"] is None
    assert "Link" not in last.headers

    def matching(**params: str) -> list[int]:
        resp = c.simulate_get("/v1/employees", params=params)
        assert resp.status_code == 200, resp.text
        return ids(resp)

    assert matching(department="R&D") == [every[0], every[3]]
    assert matching(department="r&d") == [every[1]]
    assert matching(manager_id=str(grace["id"])) == [every[2], every[4]]
    assert matching(q="PLAIN") == [every[2]]
    assert matching(q="%") == [every[1]]
    assert matching(q="_") == [every[0]]
    assert matching(q="οδυσσευς") == [every[3]]
    zwei = create_employee(c, "s@example.com", name="Straße Zwei")
    assert matching(q="STRASSE") == [every[0], zwei["id"]]
    assert matching(q="E@EXAMPLE") == [every[4]]
    assert matching(q="ada", department="R&D") == []
    assert matching(q="haupt", department="R&D") == [every[0]]

    team = c.simulate_get(
        f"/v1/managers/{grace['id']}/employees", params={"limit": "1"}
    )
    assert ids(team) == [every[2]]
    assert ids(c.simulate_get(next_link(team) or "")) == [every[4]]

    assert_problem(
        c.simulate_get("/v1/employees", query_string="limit=0&cursor=x&foo=1"),
        422,
        fields={"limit", "cursor", "foo"},
    )


@pytest.mark.parametrize("parameter", ["department", "q"])
def test_a_filter_containing_a_control_character_is_422_on_every_store(
    any_client: testing.TestClient, parameter: str
) -> None:
    # PostgreSQL refuses NUL in a parameter; no stored value can contain one.
    create_employee(any_client, "ada@example.com", department="R&D")
    for value in ("R%00", "R%01D", "%7F"):
        resp = any_client.simulate_get(
            "/v1/employees", query_string=f"{parameter}={value}"
        )
        assert_problem(resp, 422, fields={parameter})

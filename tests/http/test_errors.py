"""Errors not tied to one resource's rules: 400, 404, 405, 413, 415, 422."""

from __future__ import annotations

import io

import pytest
from falcon import testing

from tests.http.conftest import SMALL_BODY_LIMIT
from tests.http.support import assert_problem, create_employee, create_manager

DEFAULT_BODY_LIMIT = 64 * 1024
JSON = {"Content-Type": "application/json"}


def padded(doc: str, size: int) -> str:
    """The JSON document followed by whitespace up to exactly size bytes."""
    assert len(doc.encode()) <= size
    return doc + " " * (size - len(doc.encode()))


# 400


@pytest.mark.parametrize(
    "body", ["", "{", '{"name": "Ada",}', "{'name': 'Ada'}", "nul", "{} {}", "\ufeff{}"]
)
def test_a_body_that_is_not_valid_json_is_400(
    client: testing.TestClient, body: str
) -> None:
    resp = client.simulate_post("/v1/employees", body=body, headers=JSON)
    assert_problem(resp, 400)
    assert client.simulate_get("/v1/employees").json["items"] == []


def test_an_empty_body_is_400_on_every_write_that_takes_one(
    client: testing.TestClient,
) -> None:
    ada = create_employee(client, "ada@example.com")
    grace = create_manager(client, "grace@example.com")
    for method, path in [
        ("POST", "/v1/employees"),
        ("PUT", f"/v1/employees/{ada['id']}"),
        ("PATCH", f"/v1/employees/{ada['id']}"),
        ("POST", "/v1/managers"),
        ("PUT", f"/v1/managers/{grace['id']}"),
        ("PATCH", f"/v1/managers/{grace['id']}"),
    ]:
        resp = client.simulate_request(method, path, body="", headers=JSON)
        assert_problem(resp, 400)


def test_an_empty_body_without_a_content_type_is_400(
    client: testing.TestClient,
) -> None:
    assert_problem(client.simulate_post("/v1/managers"), 400)


def test_a_body_that_is_not_utf8_is_400(client: testing.TestClient) -> None:
    resp = client.simulate_post(
        "/v1/employees",
        body=b'{"name": "\xff", "email": "a@example.com"}',
        headers=JSON,
    )
    assert_problem(resp, 400)


# 404


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/v1",
        "/v1/employee",
        "/v2/employees",
        "/v1/employees/1/extra",
        "/v1/teams",
        "/v1/managers/1/employees/1/extra",
    ],
)
def test_an_unknown_route_is_404(client: testing.TestClient, path: str) -> None:
    create_manager(client, "grace@example.com")
    create_employee(client, "ada@example.com")
    assert_problem(client.simulate_get(path), 404)


@pytest.mark.parametrize(
    "record_id", ["abc", "0", "-1", "1.5", "1e3", "%20", "99999999999999999999"]
)
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_a_path_id_that_is_not_a_positive_integer_is_404(
    client: testing.TestClient, record_id: str, method: str
) -> None:
    resp = client.simulate_request(
        method, f"/v1/employees/{record_id}", body="{}", headers=JSON
    )
    assert_problem(resp, 404)
    assert_problem(client.simulate_request(method, f"/v1/managers/{record_id}"), 404)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/managers/abc/employees",
        "/v1/managers/0/employees",
        "/v1/managers/-1/employees/1",
        "/v1/managers/1/employees/abc",
        "/v1/managers/1/employees/0",
    ],
)
def test_team_paths_with_a_non_positive_integer_id_are_404(
    client: testing.TestClient, path: str
) -> None:
    create_manager(client, "grace@example.com")
    create_employee(client, "ada@example.com")
    for method in ("GET", "PUT", "DELETE"):
        assert_problem(client.simulate_request(method, path), 404)


# 405


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/v1/employees", {"GET", "HEAD", "POST"}),
        ("/v1/employees/1", {"GET", "HEAD", "PUT", "PATCH", "DELETE"}),
        ("/v1/managers", {"GET", "HEAD", "POST"}),
        ("/v1/managers/1", {"GET", "HEAD", "PUT", "PATCH", "DELETE"}),
        ("/v1/managers/1/employees", {"GET", "HEAD"}),
        ("/v1/managers/1/employees/1", {"PUT", "DELETE"}),
        ("/health/live", {"GET", "HEAD"}),
        ("/health/ready", {"GET", "HEAD"}),
    ],
)
def test_a_method_not_allowed_on_a_route_is_405_with_allow(
    client: testing.TestClient, path: str, allowed: set[str]
) -> None:
    for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - allowed:
        resp = client.simulate_request(method, path, json={})
        assert_problem(resp, 405)
        listed = {m.strip() for m in resp.headers["Allow"].split(",")}
        assert listed - {"OPTIONS"} == allowed, (method, path, listed)


# 413


def test_a_body_of_exactly_the_default_limit_is_accepted(
    client: testing.TestClient,
) -> None:
    body = padded('{"name": "Ada", "email": "ada@example.com"}', DEFAULT_BODY_LIMIT)
    resp = client.simulate_post("/v1/employees", body=body, headers=JSON)
    assert resp.status_code == 201


def test_a_body_over_the_default_64_kib_limit_is_413(
    client: testing.TestClient,
) -> None:
    body = padded('{"name": "Ada", "email": "ada@example.com"}', DEFAULT_BODY_LIMIT + 1)
    assert_problem(client.simulate_post("/v1/employees", body=body, headers=JSON), 413)
    assert client.simulate_get("/v1/employees").json["items"] == []


def test_a_much_larger_body_is_413_on_put_and_patch_too(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    big = '{"name": "' + "x" * (2 * DEFAULT_BODY_LIMIT) + '"}'
    path = f"/v1/managers/{grace['id']}"
    assert_problem(client.simulate_put(path, body=big, headers=JSON), 413)
    assert_problem(client.simulate_patch(path, body=big, headers=JSON), 413)
    assert client.simulate_get(path).json == grace


def test_a_configured_smaller_limit_is_enforced(
    small_body_client: testing.TestClient,
) -> None:
    doc = '{"name": "Ada", "email": "ada@example.com"}'
    at_limit = small_body_client.simulate_post(
        "/v1/employees", body=padded(doc, SMALL_BODY_LIMIT), headers=JSON
    )
    assert at_limit.status_code == 201
    path = at_limit.headers["Location"]
    over = padded(doc, SMALL_BODY_LIMIT + 1)
    assert_problem(
        small_body_client.simulate_post("/v1/employees", body=over, headers=JSON), 413
    )
    assert_problem(small_body_client.simulate_put(path, body=over, headers=JSON), 413)
    assert_problem(
        small_body_client.simulate_patch(path, body=padded("{}", SMALL_BODY_LIMIT + 1)),
        413,
    )
    assert small_body_client.simulate_get(path).json == at_limit.json


# 415


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/merge-patch+json",
    ],
)
def test_post_and_put_with_a_non_json_content_type_are_415(
    client: testing.TestClient, content_type: str
) -> None:
    ada = create_employee(client, "ada@example.com")
    body = '{"name": "Ada", "email": "other@example.com"}'
    headers = {"Content-Type": content_type}
    assert_problem(
        client.simulate_post("/v1/employees", body=body, headers=headers), 415
    )
    assert_problem(
        client.simulate_put(f"/v1/employees/{ada['id']}", body=body, headers=headers),
        415,
    )
    assert_problem(
        client.simulate_post("/v1/managers", body=body, headers=headers), 415
    )
    assert client.simulate_get(f"/v1/employees/{ada['id']}").json == ada


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded"]
)
def test_patch_with_a_non_json_content_type_is_415(
    client: testing.TestClient, content_type: str
) -> None:
    ada = create_employee(client, "ada@example.com")
    resp = client.simulate_patch(
        f"/v1/employees/{ada['id']}",
        body='{"title": "X"}',
        headers={"Content-Type": content_type},
    )
    assert_problem(resp, 415)


def test_patch_accepts_both_json_and_merge_patch_json(
    client: testing.TestClient,
) -> None:
    grace = create_manager(client, "grace@example.com")
    path = f"/v1/managers/{grace['id']}"
    for n, content_type in enumerate(
        ["application/merge-patch+json", "application/json"]
    ):
        resp = client.simulate_patch(
            path,
            body=f'{{"department": "D{n}"}}',
            headers={"Content-Type": content_type},
        )
        assert resp.status_code == 200
        assert resp.json["department"] == f"D{n}"


def test_json_with_a_charset_parameter_is_accepted(client: testing.TestClient) -> None:
    resp = client.simulate_post(
        "/v1/employees",
        body='{"name": "Ada", "email": "ada@example.com"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert resp.status_code == 201


# 422 for JSON that is not an object


@pytest.mark.parametrize(
    "body", ["[]", '[{"name": "Ada"}]', '"Ada"', "42", "null", "true"]
)
def test_json_that_is_not_an_object_is_422(
    client: testing.TestClient, body: str
) -> None:
    ada = create_employee(client, "ada@example.com")
    grace = create_manager(client, "grace@example.com")
    for method, path in [
        ("POST", "/v1/employees"),
        ("PUT", f"/v1/employees/{ada['id']}"),
        ("PATCH", f"/v1/employees/{ada['id']}"),
        ("POST", "/v1/managers"),
        ("PATCH", f"/v1/managers/{grace['id']}"),
    ]:
        resp = client.simulate_request(method, path, body=body, headers=JSON)
        # No single field is at fault, so the problem names none.
        assert_problem(resp, 422)


# Problem bodies


def test_a_validation_problem_lists_field_and_message_for_each_error(
    client: testing.TestClient,
) -> None:
    resp = client.simulate_post("/v1/employees", json={"name": "", "email": "nope"})
    body = assert_problem(resp, 422, fields={"name", "email"})
    assert body["title"] == "Unprocessable Content"


@pytest.mark.parametrize(
    ("status", "title"),
    [
        (400, "Bad Request"),
        (404, "Not Found"),
        (405, "Method Not Allowed"),
        (413, "Content Too Large"),
        (415, "Unsupported Media Type"),
    ],
)
def test_problem_titles_are_the_status_reason_phrases(
    client: testing.TestClient, status: int, title: str
) -> None:
    requests = {
        400: ("POST", "/v1/employees", "{", "application/json"),
        404: ("GET", "/v1/nowhere", None, None),
        405: ("DELETE", "/v1/employees", None, None),
        413: (
            "POST",
            "/v1/employees",
            "{" + " " * DEFAULT_BODY_LIMIT + "}",
            "application/json",
        ),
        415: ("POST", "/v1/employees", "{}", "text/plain"),
    }
    method, path, body, content_type = requests[status]
    headers = {"Content-Type": content_type} if content_type else {}
    resp = client.simulate_request(method, path, body=body, headers=headers)
    assert assert_problem(resp, status)["title"] == title


# Bodies sent with Transfer-Encoding: chunked carry no Content-Length. A WSGI
# server such as gunicorn then passes the de-chunked body in wsgi.input, marks
# it wsgi.input_terminated, and sets no CONTENT_LENGTH; this environ is that.


def chunked(body: bytes) -> dict[str, object]:
    return {"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True}


CHUNKED_HEADERS = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}


def test_a_chunked_json_body_without_content_length_is_read(
    client: testing.TestClient,
) -> None:
    resp = client.simulate_post(
        "/v1/employees",
        headers=CHUNKED_HEADERS,
        extras=chunked(b'{"name": "Ada", "email": "ada@example.com"}'),
    )
    assert resp.status_code == 201, resp.text


def test_a_chunked_body_over_the_limit_is_413(
    small_body_client: testing.TestClient,
) -> None:
    doc = b'{"name": "Ada", "email": "ada@example.com"}'
    body = doc + b" " * (SMALL_BODY_LIMIT + 1 - len(doc))
    resp = small_body_client.simulate_post(
        "/v1/employees", headers=CHUNKED_HEADERS, extras=chunked(body)
    )
    assert_problem(resp, 413)


def test_one_422_names_every_offending_field_of_type_and_of_rule(
    client: testing.TestClient,
) -> None:
    body = {"name": "   ", "email": "bad", "title": 5, "zzz": 1, "department": "R&D"}
    resp = client.simulate_post("/v1/employees", json=body)
    assert_problem(resp, 422, fields={"name", "email", "title", "zzz"})
    assert client.simulate_get("/v1/employees").json["items"] == []


def test_json_nested_too_deeply_is_400_not_a_crash(client: testing.TestClient) -> None:
    deep = "[" * 5000 + "]" * 5000
    resp = client.simulate_post("/v1/employees", body=deep, headers=JSON)
    assert_problem(resp, 400)
    title = '{"name": "A", "email": "a@example.com", "title": ' + deep + "}"
    assert_problem(client.simulate_post("/v1/employees", body=title, headers=JSON), 400)

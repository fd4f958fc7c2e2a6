"""Whatever a client sends, the answer is never a 5xx and errors are problems."""

from __future__ import annotations

import json
from typing import Any

from falcon import testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=300),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
# Field values: mostly strings near the limits, sometimes anything at all.
texts = st.text(min_size=0, max_size=260) | st.text(
    alphabet=st.characters(codec="utf-8"), min_size=190, max_size=260
)
emails = st.builds(lambda a, b: f"{a}@{b}", st.text(max_size=20), st.text(max_size=20))
values = texts | emails | json_values
bodies = (
    st.fixed_dictionaries(
        {},
        optional={
            name: values
            for name in (
                "name",
                "email",
                "title",
                "department",
                "manager_id",
                "id",
                "version",
                "x",
            )
        },
    )
    | json_values
)
writes = st.sampled_from(
    [
        ("POST", "/v1/employees"),
        ("POST", "/v1/managers"),
        ("PUT", "/v1/employees/1"),
        ("PATCH", "/v1/employees/1"),
        ("PUT", "/v1/managers/1"),
        ("PATCH", "/v1/managers/1"),
        ("PUT", "/v1/managers/1/employees/1"),
        ("DELETE", "/v1/managers/1/employees/1"),
    ]
)
query_values = st.text(max_size=40)
query_names = st.sampled_from(
    ["limit", "cursor", "q", "department", "manager_id", "zz"]
)

# Each store in turn (PostgreSQL refuses values SQLite takes, such as NUL);
# state carries over between examples, which only widens what is tried.
FUZZ = settings(
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def seeded(client: testing.TestClient) -> testing.TestClient:
    client.simulate_post("/v1/managers", json={"name": "G", "email": "g@example.com"})
    client.simulate_post("/v1/employees", json={"name": "A", "email": "a@example.com"})
    return client


def assert_no_server_error(resp: testing.Result) -> None:
    assert resp.status_code < 500, resp.text
    if resp.status_code >= 400:
        assert resp.headers["Content-Type"] == "application/problem+json"
        assert resp.json["status"] == resp.status_code


@FUZZ
@given(write=writes, body=bodies, if_match=st.text(max_size=30))
def test_no_body_or_header_makes_a_write_fail_on_the_server(
    any_client: testing.TestClient, write: tuple[str, str], body: Any, if_match: str
) -> None:
    method, path = write
    headers = {"Content-Type": "application/json"}
    if if_match.isprintable() and if_match.isascii():
        headers["If-Match"] = if_match
    resp = seeded(any_client).simulate_request(
        method, path, body=json.dumps(body), headers=headers
    )
    assert_no_server_error(resp)


@FUZZ
@given(
    path=st.sampled_from(["/v1/employees", "/v1/managers", "/v1/managers/1/employees"]),
    params=st.lists(st.tuples(query_names, query_values), max_size=4),
)
def test_no_query_string_makes_a_list_fail_on_the_server(
    any_client: testing.TestClient, path: str, params: list[tuple[str, str]]
) -> None:
    resp = seeded(any_client).simulate_get(path, params=dict(params))
    assert_no_server_error(resp)

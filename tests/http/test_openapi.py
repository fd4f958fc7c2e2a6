"""/openapi.json is a valid OpenAPI 3.1 document of exactly the routes served,
and /docs renders it from assets the service serves itself."""

from __future__ import annotations

import re

import falcon.inspect
import pytest
from falcon import testing
from openapi_spec_validator import validate

import bootstrap
from adapters.memory.storage import MemoryStorage
from entrypoints.http.route_labels import route_label
from settings import AuthSettings, Settings

SECRET = "o" * 40


@pytest.fixture
def app() -> falcon.App:  # type: ignore[type-arg]
    settings = Settings(database_url="memory://", auth=AuthSettings(secret_key=SECRET))
    return bootstrap.bootstrap(settings=settings, storage=MemoryStorage())


@pytest.fixture
def client(app: falcon.App) -> testing.TestClient:  # type: ignore[type-arg]
    return testing.TestClient(app)


def test_the_document_is_valid_openapi_3_1_and_needs_no_key(
    client: testing.TestClient,
) -> None:
    resp = client.simulate_get("/openapi.json")
    assert resp.status_code == 200
    assert resp.json["openapi"] == "3.1.0"
    validate(resp.json)


def test_every_served_route_and_method_is_documented_and_nothing_else(
    app: falcon.App,
    client: testing.TestClient,  # type: ignore[type-arg]
) -> None:
    served = {
        (route_label(route.path), method.method.lower())
        for route in falcon.inspect.inspect_routes(app)
        for method in route.methods
        if not method.internal
    }
    paths = client.simulate_get("/openapi.json").json["paths"]
    documented = {(path, method) for path, ops in paths.items() for method in ops}
    assert documented == served
    assert ("/v1/employees/{employee_id}", "patch") in documented


def test_keyed_operations_say_their_scope_and_their_errors(
    client: testing.TestClient,
) -> None:
    paths = client.simulate_get("/openapi.json").json["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if not path.startswith("/v1"):
                assert operation["security"] == []
                continue
            scope = "read" if method in ("get", "head") else "write"
            assert operation["x-required-scope"] == scope
            assert {"401", "403", "429"} <= set(operation["responses"])
            headers = operation["responses"]["401"]["headers"]
            assert "WWW-Authenticate" in headers and "RateLimit-Remaining" in headers
    post = paths["/v1/employees"]["post"]
    assert post["parameters"][0] == {"$ref": "#/components/parameters/Idempotency-Key"}
    patch = paths["/v1/managers/{manager_id}"]["patch"]["requestBody"]["content"]
    assert set(patch) == {"application/json", "application/merge-patch+json"}


def test_the_choices_the_contract_leaves_open_are_written_down(
    client: testing.TestClient,
) -> None:
    description = client.simulate_get("/openapi.json").json["info"]["description"]
    for words in ("Unknown or repeated query parameters", "429 rather than 401",
                  "`OPTIONS`, like every other", "weakly"):  # fmt: skip
        assert words in description


def test_docs_render_from_assets_of_our_own(client: testing.TestClient) -> None:
    page = client.simulate_get("/docs")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    sources = re.findall(r'(?:src|href|url)[=:]\s*"([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    for source in sources:
        assert client.simulate_get(source).status_code == 200, source


def test_options_is_a_plain_204_that_lists_itself(client: testing.TestClient) -> None:
    resp = client.simulate_options("/health/live")
    assert resp.status_code == 204
    assert resp.content == b""
    assert "Content-Type" not in resp.headers
    assert resp.headers["Allow"].split(", ")[-1] == "OPTIONS"


def test_operations_have_readable_stable_ids_and_a_tag_per_resource(
    client: testing.TestClient,
) -> None:
    """What a client generator names its functions and modules after."""
    paths = client.simulate_get("/openapi.json").json["paths"]
    operations = [op for ops in paths.values() for op in ops.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+[A-Za-z]*", i) for i in ids), ids
    assert paths["/v1/employees"]["get"]["operationId"] == "listEmployees"
    member = paths["/v1/managers/{manager_id}/employees/{employee_id}"]
    assert (member["put"]["operationId"], member["delete"]["operationId"]) == (
        "joinTeam",
        "leaveTeam",
    )
    assert {op["tags"][0] for op in operations} == {
        "employees", "managers", "teams", "changes", "service"
    }  # fmt: skip


def test_the_declarations_a_client_relies_on_are_what_is_sent(
    client: testing.TestClient,
) -> None:
    document = client.simulate_get("/openapi.json").json
    employee = document["components"]["schemas"]["EmployeeOut"]["properties"]
    assert employee["created_at"]["format"] == "date-time"
    assert employee["updated_at"]["format"] == "date-time"
    own = document["paths"]["/openapi.json"]["get"]["responses"]["200"]["content"]
    assert own["application/json"]["schema"] == {"type": "object"}
    # Any X-Request-ID is accepted (a bad one is replaced), so none is refused.
    assert (
        "pattern" not in document["components"]["parameters"]["X-Request-ID"]["schema"]
    )
    answer = client.simulate_get("/v1/employees", headers={"X-Request-ID": "\x7f bad"})
    assert answer.status_code != 400


@pytest.mark.parametrize("path", ["/metrics", "/openapi.json", "/docs"])
def test_head_answers_where_get_does(client: testing.TestClient, path: str) -> None:
    got, head = client.simulate_get(path), client.simulate_head(path)
    assert (got.status_code, head.status_code) == (200, 200)
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.content == b""


def test_the_pages_assets_are_immutable_at_a_versioned_url(
    client: testing.TestClient,
) -> None:
    page = client.simulate_get("/docs").text
    urls = re.findall(r'(?:href|src)="(/docs/static/[^"]+)"', page)
    assert len(urls) == 2
    for url in urls:
        asset = client.simulate_get(url)
        assert asset.status_code == 200 and asset.content
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert client.simulate_head(url).status_code == 200
        assert client.simulate_post(url).status_code == 405
        assert client.simulate_delete(url).status_code == 405
    version = urls[0].split("/")[3]
    for missing in (
        "/docs/static/0.0.0/swagger-ui.css",  # another version
        f"/docs/static/{version}/nothing.js",
        f"/docs/static/{version}/..%2F..%2Fbootstrap.py",
        "/docs/static/swagger-ui.css",  # the old, unversioned URL
    ):
        assert client.simulate_get(missing).status_code == 404, missing

"""What either server hands the app of a request, compared on the wire: a
percent-encoded path reaches the same route, a path that is not UTF-8 or
names nothing gets a problem 404 (never a 500), and a header spelled with
underscores cannot pose as another (X_Forwarded_For is not X-Forwarded-For:
the client's identity for rate limits stays the proxy's word alone)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.distributed.support import Instance
from tests.support.http_clients import Http, ok
from tests.support.processes import employee_api


@pytest.fixture
def server(tmp_path: Path, http_server: str) -> Iterator[Instance]:
    database = f"sqlite:///{tmp_path / 'mapping.sqlite3'}"
    employee_api("migrate", env={"DATABASE_URL": database}, check=True)
    instance = Instance(
        {
            "DATABASE_URL": database,
            "TRUSTED_PROXIES": "127.0.0.1",
            "RATE_LIMIT_EMPLOYEES": "2/minute",
        },
        tmp_path / "server.log",
        server=http_server,
    ).start()
    yield instance
    instance.stop()


def test_a_percent_encoded_path_reaches_the_same_record(server: Instance) -> None:
    http = Http(server.port)
    body = {"name": "M", "email": "m@x.org"}
    created = ok(http.request("POST", "/v1/managers", body), 201).json
    encoded = "".join(f"%{ord(c):X}" for c in str(created["id"]))
    assert ok(http.get(f"/v1/managers/{encoded}")).json == created
    for path in ("/v1/manag%C3%A9rs", "/v1/managers/%FF", "/v1/%2e%2e/health/live"):
        answer = http.get(path)
        assert answer.status == 404, (path, answer.status)
        assert answer.headers["content-type"] == "application/problem+json"
    http.close()


def test_a_header_with_underscores_cannot_pose_as_x_forwarded_for(
    server: Instance,
) -> None:
    http = Http(server.port)
    spoofed = {"X-Forwarded-For": "203.0.113.9"}
    assert [http.get("/v1/employees", headers=spoofed).status for _ in range(3)] == [
        200, 200, 429,
    ]  # fmt: skip
    # 203.0.113.9's quota is spent; with underscores the header is dropped,
    # so the request is the proxy's own (127.0.0.1), which has its quota.
    underscored = {"X_Forwarded_For": "203.0.113.9"}
    assert http.get("/v1/employees", headers=underscored).status == 200
    http.close()

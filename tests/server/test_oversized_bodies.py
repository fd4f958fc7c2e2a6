"""Oversized bodies straight at the server (gunicorn, then granian): every
one gets its 413, and the connection either stays usable or is closed
cleanly after the answer, so the next request (on the same connection or a
new one) succeeds."""

from __future__ import annotations

import http.client
import json
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.distributed.support import SERVERS, Instance
from tests.support.processes import employee_api

LIMIT = 4096
BATCH_LIMIT = 65536
ROUNDS = 200


@pytest.fixture(scope="module", params=SERVERS)
def server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Instance]:
    tmp_path = tmp_path_factory.mktemp("oversized")
    database = f"sqlite:///{tmp_path / 'big.sqlite3'}"
    employee_api("migrate", env={"DATABASE_URL": database}, check=True)
    instance = Instance(
        {
            "DATABASE_URL": database,
            "MAX_BODY_BYTES": str(LIMIT),
            "BATCH_MAX_BODY_BYTES": str(BATCH_LIMIT),
            "RATE_LIMIT_MANAGERS": "1000000/minute",
        },
        tmp_path / "server.log",
        server=request.param,
    ).start()
    yield instance
    instance.stop()


def chunks(body: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
@pytest.mark.parametrize("excess", [1, 16 * 1024, 1024 * 1024], ids=str)
def test_every_oversized_body_gets_its_413(
    server: Instance, chunked: bool, excess: int
) -> None:
    body = b'{"name": "' + b"x" * (LIMIT + excess) + b'"}'
    outcomes: Counter[str] = Counter()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    for _ in range(ROUNDS):
        headers = {"Content-Type": "application/json"}
        connection.request(
            "POST",
            "/v1/managers",
            body=chunks(body) if chunked else body,
            headers=headers,
            encode_chunked=chunked,
        )
        answer = connection.getresponse()
        answer.read()
        outcomes[f"POST {answer.status}"] += 1
        if answer.will_close:
            outcomes["closed after"] += 1
            connection.close()
            connection = http.client.HTTPConnection(
                "127.0.0.1", server.port, timeout=10
            )
        connection.request("GET", "/health/live")
        follow = connection.getresponse()
        follow.read()
        outcomes[f"GET {follow.status}"] += 1
    connection.close()
    assert outcomes["POST 413"] == ROUNDS, outcomes
    assert outcomes["GET 200"] == ROUNDS, outcomes


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_a_batch_route_takes_bodies_up_to_its_own_limit(
    server: Instance, chunked: bool
) -> None:
    """Buffered before a thread sees it (gunicorn's worker, granian's bridge)
    and read by the app up to BATCH_MAX_BODY_BYTES, on the batch routes only."""
    tag = "c" if chunked else "l"
    items = [{"name": "M" * 100, "email": f"{tag}{i}@example.com"} for i in range(300)]
    body = json.dumps({"items": items}).encode()
    assert LIMIT < len(body) < BATCH_LIMIT
    too_big = json.dumps({"items": items * 3}).encode()
    assert len(too_big) > BATCH_LIMIT
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    statuses = []
    for sent in (body, too_big):
        connection.request(
            "POST", "/v1/managers/batch", body=chunks(sent) if chunked else sent,
            headers={"Content-Type": "application/json"}, encode_chunked=chunked,
        )  # fmt: skip
        answer = connection.getresponse()
        answer.read()
        statuses.append(answer.status)
        if answer.will_close:
            connection.close()
    connection.close()
    assert statuses == [201, 413]

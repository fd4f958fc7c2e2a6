"""Races across two instances, 50 rounds each: the two requests of a round
start together, one on each instance; exactly one wins, and the other gets
the contract's 409, 412 or 404."""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import World, world

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ROUNDS = 50


@pytest.fixture(scope="module", params=["direct", "pgbouncer"])
def pair(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[World]:
    """Two instances, on the database directly, then through PgBouncer in
    transaction pooling mode."""
    directory = Path(tmp_path_factory.mktemp("races"))
    with world(directory, pooled=request.param == "pgbouncer") as running:
        yield running


def call(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any, str]:
    """Status, JSON body and ETag of one request on a fresh connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        data = json.dumps(body) if body is not None else None
        sent = {"Content-Type": "application/json"} if data else {}
        connection.request(method, path, body=data, headers=sent)
        answer = connection.getresponse()
        raw = answer.read()
        etag = answer.getheader("ETag") or ""
        return answer.status, (json.loads(raw) if raw else None), etag
    finally:
        connection.close()


def together(*requests: tuple[int, str, str, Any, dict[str, str]]) -> list[int]:
    """Sends the requests at once, each on its own connection already open."""
    connections = [
        http.client.HTTPConnection("127.0.0.1", r[0], timeout=20) for r in requests
    ]
    for connection in connections:
        connection.connect()
    start = threading.Barrier(len(requests))
    statuses: list[int] = [0] * len(requests)

    def send(index: int) -> None:
        _, method, path, body, headers = requests[index]
        data = json.dumps(body) if body is not None else None
        sent = {"Content-Type": "application/json", **headers} if data else headers
        start.wait(timeout=10)
        connections[index].request(method, path, body=data, headers=sent)
        answer = connections[index].getresponse()
        answer.read()
        statuses[index] = answer.status

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for connection in connections:
        connection.close()
    return statuses


class Made:
    """Fresh records for each round, so rounds never interfere."""

    def __init__(self, port: int, tag: str) -> None:
        self._port = port
        self._tag = tag
        self._n = 0

    def manager(self) -> int:
        return self._made("managers")

    def employee(self) -> int:
        return self._made("employees")

    def _made(self, collection: str) -> int:
        self._n += 1
        email = f"{collection[0]}{self._n}@{self._tag}.race.test"
        status, body, _ = call(
            self._port, "POST", f"/v1/{collection}", {"name": "R", "email": email}
        )
        assert status == 201, body
        return int(body["id"])


def test_two_joins_of_one_employee_to_different_managers(pair: World) -> None:
    a, b = pair.ports
    made = Made(a, "joins")
    outcomes: Counter[tuple[int, ...]] = Counter()
    for _ in range(ROUNDS):
        first, second, employee = made.manager(), made.manager(), made.employee()
        statuses = together(
            (a, "PUT", f"/v1/managers/{first}/employees/{employee}", None, {}),
            (b, "PUT", f"/v1/managers/{second}/employees/{employee}", None, {}),
        )
        outcomes[tuple(sorted(statuses))] += 1
        winner = first if statuses[0] == 200 else second
        assert call(b, "GET", f"/v1/employees/{employee}")[1]["manager_id"] == winner
    assert outcomes == {(200, 409): ROUNDS}, outcomes


def test_a_join_against_the_managers_delete(pair: World) -> None:
    a, b = pair.ports
    made = Made(a, "delete")
    outcomes: Counter[tuple[int, int]] = Counter()
    for _ in range(ROUNDS):
        manager, employee = made.manager(), made.employee()
        join, delete = together(
            (a, "PUT", f"/v1/managers/{manager}/employees/{employee}", None, {}),
            (b, "DELETE", f"/v1/managers/{manager}", None, {}),
        )
        outcomes[(join, delete)] += 1
        now = call(a, "GET", f"/v1/employees/{employee}")[1]["manager_id"]
        assert now == (manager if join == 200 else None)
    assert set(outcomes) <= {(200, 409), (404, 204)}, outcomes


def test_two_patches_with_one_if_match(pair: World) -> None:
    a, b = pair.ports
    made = Made(a, "patches")
    outcomes: Counter[tuple[int, ...]] = Counter()
    for _ in range(ROUNDS):
        employee = made.employee()
        _, _, etag = call(b, "GET", f"/v1/employees/{employee}")
        statuses = together(
            (
                a,
                "PATCH",
                f"/v1/employees/{employee}",
                {"title": "A"},
                {"If-Match": etag},
            ),
            (
                b,
                "PATCH",
                f"/v1/employees/{employee}",
                {"title": "B"},
                {"If-Match": etag},
            ),
        )
        outcomes[tuple(sorted(statuses))] += 1
    assert outcomes == {(200, 412): ROUNDS}, outcomes


def test_two_deletes_of_one_record(pair: World) -> None:
    a, b = pair.ports
    made = Made(a, "deletes")
    outcomes: Counter[tuple[int, ...]] = Counter()
    for _ in range(ROUNDS):
        employee = made.employee()
        statuses = together(
            (a, "DELETE", f"/v1/employees/{employee}", None, {}),
            (b, "DELETE", f"/v1/employees/{employee}", None, {}),
        )
        outcomes[tuple(sorted(statuses))] += 1
    assert outcomes == {(204, 404): ROUNDS}, outcomes

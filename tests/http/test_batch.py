"""Batch creation through the real app, over every store: every rule of the
contract's "Batch creation" section."""

from __future__ import annotations

import json
import threading
from typing import Any

import falcon
import pytest
from falcon import testing

import bootstrap
from adapters.memory.rate_limiter import MemoryRateLimiter
from adapters.memory.storage import MemoryStorage
from domain.api_keys import Quota
from entrypoints.http.batch_gate import BatchGate
from entrypoints.http.problems import Problem
from settings import HttpSettings, RateLimitSettings, Settings
from tests.conftest import UNLIMITED
from tests.http.support import assert_problem, create_employee, create_manager
from tests.support.clocks import ManualClock


def people(n: int, start: int = 0, **more: Any) -> list[dict[str, Any]]:
    return [
        {"name": f"Person {i}", "email": f"p{i}@example.com", **more}
        for i in range(start, start + n)
    ]


def batch(
    client: testing.TestClient, items: Any, kind: str = "employees", **headers: str
) -> testing.Result:
    return client.simulate_post(
        f"/v1/{kind}/batch",
        body=json.dumps({"items": items}),
        headers={"Content-Type": "application/json", **headers},
    )


def listed(client: testing.TestClient, kind: str = "employees") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.simulate_get(
        f"/v1/{kind}", params={"limit": "500"}
    ).json["items"]
    return items


def test_a_batch_creates_every_item_in_order_as_single_creates_would(
    any_client: testing.TestClient,
) -> None:
    boss = create_manager(any_client, "boss@example.com")
    items = people(3)
    items[1] |= {"title": "Engineer", "department": "R&D", "manager_id": boss["id"]}
    items[2]["name"] = "  Padded  "
    items[2]["email"] = "MiXeD@Example.COM"
    resp = batch(any_client, items)
    assert resp.status_code == 201, resp.text
    created = resp.json["items"]
    assert [c["email"] for c in created] == ["p0@example.com", "p1@example.com",
                                             "mixed@example.com"]  # fmt: skip
    assert created[2]["name"] == "Padded"
    assert created[1]["manager_id"] == boss["id"] and created[1]["title"] == "Engineer"
    assert all(c["version"] == 1 for c in created)
    assert len({c["id"] for c in created}) == 3
    for record in created:
        assert any_client.simulate_get(f"/v1/employees/{record['id']}").json == record
    changes = any_client.simulate_get(
        "/v1/changes", params={"resource": "employee"}
    ).json["items"]
    assert [c["data"] for c in changes] == created  # one change each


def test_managers_have_a_batch_too(any_client: testing.TestClient) -> None:
    resp = batch(any_client, people(2), kind="managers")
    assert resp.status_code == 201, resp.text
    assert [m["email"] for m in listed(any_client, "managers")] == [
        "p0@example.com", "p1@example.com"]  # fmt: skip
    assert "title" not in resp.json["items"][0]


@pytest.mark.parametrize(
    "body",
    [{"items": []}, {"items": "x"}, {}, {"items": None}, {"items": {"a": 1}},
     {"items": people(1001)}],
    ids=["empty", "string", "missing", "null", "object", "1001"],
)  # fmt: skip
def test_a_batch_that_is_not_1_to_1000_items_is_422_naming_items(
    client: testing.TestClient, body: dict[str, Any]
) -> None:
    resp = client.simulate_post(
        "/v1/employees/batch", body=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert_problem(resp, 422, fields={"items"})
    assert listed(client) == []


def test_a_batch_of_exactly_1000_is_created(client: testing.TestClient) -> None:
    assert batch(client, people(1000)).status_code == 201
    assert (
        len(client.simulate_get("/v1/employees", params={"limit": "500"}).json["items"])
        == 500
    )


def test_every_invalid_item_is_named_and_nothing_is_created(
    any_client: testing.TestClient,
) -> None:
    items = people(5)
    items[1]["email"] = "not-an-email"
    items[2]["nickname"] = "Bob"  # unknown field
    items[3]["name"] = 42  # a type error
    items[4]["manager_id"] = 0
    resp = batch(any_client, [*items, "not an object"])
    body = assert_problem(resp, 422, fields={
        "items[1].email", "items[2].nickname", "items[3].name",
        "items[4].manager_id", "items[5]"})  # fmt: skip
    fields = [e["field"] for e in body["errors"]]
    assert fields[0] == "items[1].email" and fields[-1] == "items[5]"  # in order
    assert listed(any_client) == []


def test_an_unknown_manager_is_422_naming_each_item(
    any_client: testing.TestClient,
) -> None:
    boss = create_manager(any_client, "boss@example.com")
    items = people(3)
    items[0]["manager_id"] = 999
    items[1]["manager_id"] = boss["id"]
    items[2]["manager_id"] = 998
    resp = batch(any_client, items)
    assert_problem(resp, 422, fields={"items[0].manager_id", "items[2].manager_id"})
    assert listed(any_client) == []


def test_emails_taken_or_repeated_are_409_naming_each_item_involved(
    any_client: testing.TestClient,
) -> None:
    create_employee(any_client, "taken@example.com")
    items = people(5)
    items[1]["email"] = "TAKEN@example.com"
    items[2]["email"] = "twice@example.com"
    items[4]["email"] = "Twice@Example.com"
    resp = batch(any_client, items)
    body = assert_problem(resp, 409, fields={"items[1].email", "items[2].email",
                                             "items[4].email"})  # fmt: skip
    assert "items[4]" in next(e for e in body["errors"]
                              if e["field"] == "items[2].email")["message"]  # fmt: skip
    assert [e["email"] for e in listed(any_client)] == ["taken@example.com"]


def test_a_managers_email_does_not_clash_with_an_employees(
    any_client: testing.TestClient,
) -> None:
    create_employee(any_client, "p0@example.com")
    assert batch(any_client, people(1), kind="managers").status_code == 201


def test_an_idempotency_key_replays_the_answer_and_creates_nothing_twice(
    any_client: testing.TestClient,
) -> None:
    first = batch(any_client, people(3), **{"Idempotency-Key": "load-1"})
    assert first.status_code == 201
    again = batch(any_client, people(3), **{"Idempotency-Key": "load-1"})
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")
    assert again.json == first.json
    assert len(listed(any_client)) == 3
    other = batch(any_client, people(2, start=10), **{"Idempotency-Key": "load-1"})
    assert_problem(other, 422, fields={"Idempotency-Key"})
    changes = any_client.simulate_get("/v1/changes").json["items"]
    assert len(changes) == 3


def limited_client(limit: int, **http: Any) -> tuple[testing.TestClient, ManualClock]:
    clock = ManualClock()
    quotas = RateLimitSettings({"employees": Quota(limit, 60)})
    settings = UNLIMITED.__class__(
        auth=UNLIMITED.auth, http=HttpSettings(rate_limits=quotas, **http)
    )
    app = bootstrap.bootstrap(
        settings=settings, storage=MemoryStorage(), limiter=MemoryRateLimiter(clock)
    )
    return testing.TestClient(app), clock


def test_a_batch_of_n_costs_n_requests_all_or_none() -> None:
    client, clock = limited_client(10)
    first = batch(client, people(4))
    assert first.status_code == 201
    assert first.headers["RateLimit-Remaining"] == "6"  # the quota after the batch
    refused = batch(client, people(7, start=4))
    assert_problem(refused, 429)
    # 10 a minute: one back every 6 s; 7 fit once one more is back.
    assert refused.headers["Retry-After"] == "6"
    assert len(listed_unlimited(client)) == 4
    clock.advance(6)
    assert batch(client, people(7, start=4)).status_code == 201


def listed_unlimited(client: testing.TestClient) -> list[dict[str, Any]]:
    return [c["data"] for c in client.simulate_get("/v1/changes").json["items"]]


def test_a_batch_larger_than_the_whole_quota_is_422_naming_items() -> None:
    client, _ = limited_client(5)
    resp = batch(client, people(6))
    body = assert_problem(resp, 422, fields={"items"})
    assert "quota" in body["errors"][0]["message"]
    assert listed_unlimited(client) == []


def test_the_batch_body_limit_is_its_own() -> None:
    client, _ = limited_client(10_000, max_body_bytes=1000, batch_max_body_bytes=20_000)
    assert batch(client, people(100)).status_code == 201  # ~6 KB: above 1,000
    assert_problem(batch(client, people(900, start=100)), 413)
    big = {"name": "x" * 2000, "email": "x@example.com"}
    one = client.simulate_post("/v1/employees", json=big)
    assert_problem(one, 413)  # the ordinary routes keep theirs


def batch_request(method: str = "POST") -> falcon.Request:
    req = testing.create_req(method=method, path="/v1/employees/batch")
    req.uri_template = "/v1/employees/batch"  # as routing sets it
    return req


def test_batches_take_turns_and_one_whose_turn_does_not_come_is_503() -> None:
    gate = BatchGate(1, wait_seconds=0.05)
    resp = falcon.Response()
    first, second = batch_request(), batch_request()
    gate.process_resource(first, resp, None, {})
    with pytest.raises(Problem) as refused:
        gate.process_resource(second, resp, None, {})
    assert refused.value.status_code == 503
    assert refused.value.headers is not None and "Retry-After" in refused.value.headers
    gate.process_response(second, resp, None, False)  # had no turn: gives none back
    gate.process_resource(batch_request("GET"), resp, None, {})  # not a batch
    gate.process_response(first, resp, None, True)
    gate.process_resource(second, resp, None, {})  # the turn is back
    gate.process_response(second, resp, None, True)


def test_a_waiting_batch_goes_as_soon_as_the_turn_is_given_back() -> None:
    gate = BatchGate(1, wait_seconds=30)
    resp = falcon.Response()
    first, second = batch_request(), batch_request()
    gate.process_resource(first, resp, None, {})
    waiting = threading.Thread(
        target=gate.process_resource, args=(second, resp, None, {})
    )
    waiting.start()
    gate.process_response(first, resp, None, True)
    waiting.join(timeout=5)
    assert not waiting.is_alive() and second.context.batch_turn


def test_batches_at_once_is_read_from_the_environment() -> None:
    assert Settings.from_env({"BATCHES_AT_ONCE": "3"}).http.batches_at_once == 3
    assert Settings.from_env({}).http.batches_at_once == 1

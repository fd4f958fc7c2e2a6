"""The compose stack through nginx only: CRUD with a key, the limit across two
replicas, fresh reads across replicas, a replica stopped mid-stream, and data
surviving `down` and `up`. Tests run in file order on one stack."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

from tests.stack.support import (
    CLIENT_A,
    CLIENT_B,
    NGINX,
    Stack,
    docker,
    health,
    logs_of,
    request,
    wait_until,
)

UNLIMITED = ("managers=100000/minute", "employees=100000/minute")


def test_crud_with_a_key(stack: Stack) -> None:
    token = stack.new_key("crud", *UNLIMITED)
    assert request("GET", "/v1/managers").status == 401
    grace = request(
        "POST", "/v1/managers", token, {"name": "Grace", "email": "grace@example.com"}
    )
    assert grace.status == 201, grace.body
    manager = grace.json
    ada = request(
        "POST", "/v1/employees", token, {"name": "Ada", "email": "ada@example.com"}
    )
    assert ada.status == 201, ada.body
    employee = ada.json
    assert ada.headers["location"] == f"/v1/employees/{employee['id']}"

    joined = request(
        "PUT", f"/v1/managers/{manager['id']}/employees/{employee['id']}", token
    )
    assert joined.status == 200 and joined.json["manager_id"] == manager["id"]
    team = request("GET", f"/v1/managers/{manager['id']}/employees", token)
    assert [e["id"] for e in team.json["items"]] == [employee["id"]]

    patched = request(
        "PATCH", f"/v1/employees/{employee['id']}", token, {"title": "Engineer"}
    )
    assert patched.status == 200 and patched.json["title"] == "Engineer"
    assert request("DELETE", f"/v1/managers/{manager['id']}", token).status == 409
    left = request(
        "DELETE", f"/v1/managers/{manager['id']}/employees/{employee['id']}", token
    )
    assert left.status == 204
    assert request("DELETE", f"/v1/employees/{employee['id']}", token).status == 204
    assert request("GET", f"/v1/employees/{employee['id']}", token).status == 404
    assert request("DELETE", f"/v1/managers/{manager['id']}", token).status == 204


def test_metrics_are_not_served_through_nginx(stack: Stack) -> None:
    hidden = request("GET", "/metrics")
    assert hidden.status == 404
    assert hidden.headers["content-type"] == "application/problem+json"


def served_by(stack: Stack, request_ids: set[str]) -> set[str]:
    return {
        line["upstream"]
        for line in stack.nginx_log()
        if line["request_id"] in request_ids
    }


def test_one_key_gets_its_quota_once_across_both_replicas(stack: Stack) -> None:
    token = stack.new_key("limited")  # managers: 20 a minute, the stack's default
    answers = [request("GET", "/v1/managers", token) for _ in range(26)]
    assert [a.status for a in answers] == [200] * 20 + [429] * 6
    assert answers[-1].headers["retry-after"].isdigit()
    replicas = served_by(stack, {a.headers["x-request-id"] for a in answers})
    assert replicas == {f"{stack.address('api', i)}:8000" for i in (1, 2)}


# Sends 25 keyless requests to nginx (argv[1]), each with a different forged
# X-Forwarded-For.
CLIENT = """
import http.client, json, sys
statuses = []
for n in range(25):
    c = http.client.HTTPConnection(sys.argv[1], 80, timeout=10)
    c.request("GET", "/v1/managers", headers={"X-Forwarded-For": f"10.9.{n}.1"})
    statuses.append(c.getresponse().status)
print(json.dumps(statuses))
"""


def test_two_clients_behind_the_proxy_have_their_own_buckets(stack: Stack) -> None:
    """Each client address gets the whole quota (20 a minute), and forging
    X-Forwarded-For does not buy a new one: nginx replaces it."""
    for address in (CLIENT_A, CLIENT_B):
        statuses = stack.in_network(address, CLIENT, NGINX)
        assert statuses == [401] * 20 + [429] * 5, address
    clients = {line["client"] for line in stack.nginx_log()}
    assert {CLIENT_A, CLIENT_B} <= clients
    app_clients = stack.logs("api")
    assert f'"client": "ip:{CLIENT_A}"' in app_clients
    assert "10.9.3.1" not in app_clients


def test_a_write_on_one_replica_is_read_fresh_on_the_other(stack: Stack) -> None:
    token = stack.new_key("fresh", *UNLIMITED)
    made = request(
        "POST", "/v1/employees", token, {"name": "Lin", "email": "lin@example.com"}
    ).json
    path = f"/v1/employees/{made['id']}"
    for _ in range(4):  # the cached representation is v1, wherever it lives
        assert request("GET", path, token).json["version"] == 1
    for version in (2, 3, 4):
        write = request("PATCH", path, token, {"title": f"T{version}"})
        assert write.status == 200 and write.json["version"] == version
        (writer,) = served_by(stack, {write.headers["x-request-id"]})
        readers: set[str] = set()
        for _ in range(10):  # nginx's round robin soon picks the other one
            read = request("GET", path, token)
            assert read.json["title"] == f"T{version}"
            readers |= served_by(stack, {read.headers["x-request-id"]})
            if readers - {writer}:
                break
        assert readers - {writer}, f"every read went to {writer}"


# Polls one replica's readiness (argv[1]) every 20 ms, printing each change,
# until it stops answering; then prints the whole sequence as JSON.
READINESS = """
import http.client, json, sys, time
seen = []
while True:
    try:
        c = http.client.HTTPConnection(sys.argv[1], 8000, timeout=2)
        c.request("GET", "/health/ready")
        status = c.getresponse().status
    except OSError:
        status = "refused"
    if not seen or seen[-1] != status:
        seen.append(status)
        print(status, flush=True)
    if status == "refused" and len(seen) > 1:
        break
    time.sleep(0.02)
print(json.dumps(seen))
"""


def test_a_replica_stopped_mid_stream_fails_no_retryable_request(
    stack: Stack,
) -> None:
    """GETs and PUTs (which nginx may retry) stream through nginx while one
    replica stops: none fails, the replica's readiness turns 503 before its
    port closes, and it exits 0 well within its grace period."""
    token = stack.new_key("stream", *UNLIMITED)
    record = request(
        "POST", "/v1/managers", token, {"name": "S", "email": "s@example.com"}
    ).json
    path = f"/v1/managers/{record['id']}"
    outcomes: Counter[str] = Counter()
    done = threading.Event()

    def stream(method: str) -> None:
        n = 0
        while not done.is_set():
            n += 1
            body = {"name": f"S{n}", "email": "s@example.com"}
            try:
                answer = request(method, path, token, body if method == "PUT" else None)
                outcomes[f"{method} {answer.status}"] += 1
            except OSError as exc:
                outcomes[f"{method} {type(exc).__name__}"] += 1

    def successes() -> int:
        return outcomes["GET 200"] + outcomes["PUT 200"]

    stopped = stack.container("api", 1)
    poller = stack.start_in_network(CLIENT_A, READINESS, stack.address("api", 1))
    streams = [threading.Thread(target=stream, args=(m,)) for m in ("GET", "PUT") * 3]
    for thread in streams:
        thread.start()
    try:
        wait_until(lambda: "200" in logs_of(poller), "the poller sees 200")
        wait_until(lambda: successes() >= 200, "a stream under way")
        before = successes()
        started = time.monotonic()
        docker("stop", "--time", "30", stopped)
        took = time.monotonic() - started
        wait_until(lambda: successes() >= before + 300, "the stream goes on")
    finally:
        done.set()
        for thread in streams:
            thread.join()
    docker("wait", poller, timeout=30)
    readiness = json.loads(logs_of(poller).strip().splitlines()[-1])
    docker("rm", poller)
    print(f"\nreplica stop took {took:.2f} s; readiness {readiness}; {dict(outcomes)}")
    errors = [line for line in stack.logs("nginx").splitlines() if "[error]" in line]
    assert set(outcomes) == {"GET 200", "PUT 200"}, (outcomes, errors[:10])
    assert readiness == [200, 503, "refused"]
    assert docker("inspect", "-f", "{{.State.ExitCode}}", stopped).strip() == "0"
    assert took < 30
    stack.compose("start", "api")
    wait_until(lambda: health(stopped) == "healthy", f"{stopped} healthy again")


def test_down_and_up_keeps_the_data_and_migrates_nothing(stack: Stack) -> None:
    token = stack.new_key("kept", *UNLIMITED)
    made = request(
        "POST", "/v1/managers", token, {"name": "K", "email": "kept@example.com"}
    ).json
    stack.down()
    stack.up()
    stack.wait_healthy("api", 2)
    assert "applied 0 migration(s): none pending" in stack.logs("migrate")
    again = request("GET", f"/v1/managers/{made['id']}", token)
    assert again.status == 200 and again.json["email"] == "kept@example.com"

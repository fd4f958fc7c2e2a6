"""Security across real processes: gunicorn instances with auth on, sharing
PostgreSQL and Redis, keys made by the command line as an operator would.

- a revoked key is refused by both instances within a second, well inside
  AUTH_CACHE_SECONDS (the revocation is announced over Redis);
- twenty simultaneous retries of one Idempotency-Key through two instances
  create one record;
- no token and no SECRET_KEY reach the database, Redis, the logs, or the
  command line's listings;
- every spelling of a path, sent raw, is limited in its group or is 404;
- two deployments on two databases sharing one Redis database never meet.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from adapters.sql.database import open_database
from tests.distributed import support
from tests.distributed.support import Instance
from tests.support import services
from tests.support.http_clients import Http, Reply, ok
from tests.support.polling import poll
from tests.support.processes import employee_api
from tests.support.services import empty_database, shared_redis

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

SECRET = "distributed-tests-secret-key-0123456789"
CACHE_SECONDS = 60  # revocation notices, not the cache's expiry, must do it


def keys_cli(postgres_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return support.keys_cli(postgres_url, SECRET, *args)


def new_token(postgres_url: str, name: str, scopes: str) -> str:
    return support.new_token(postgres_url, SECRET, name, scopes)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def secured_pair(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Instance, Instance]]:
    env = {
        "SECRET_KEY": SECRET,
        "AUTH_DISABLED": "0",
        "AUTH_CACHE_SECONDS": str(CACHE_SECONDS),
        "RATE_LIMIT_EMPLOYEES": "100000/minute",
        "RATE_LIMIT_MANAGERS": "100000/minute",
        "ACCESS_LOG": "-",  # the leak test reads every line these write
        "LOG_LEVEL": "debug",
    }
    yield from support.serve_pair(
        postgres_url, tmp_path_factory.mktemp("secured_pair"), env
    )


def test_a_revoked_key_is_refused_by_both_instances_within_a_second(
    secured_pair: tuple[Instance, Instance], postgres_url: str
) -> None:
    token = new_token(postgres_url, "to-revoke", "read")
    connections = [instance.http() for instance in secured_pair]
    for http in connections:  # each instance now holds the key verified
        ok(http.get("/v1/employees", bearer(token)))
    keys_cli(postgres_url, "revoke", "to-revoke")  # committed when it returns
    revoked_at = time.monotonic()
    for http in connections:
        poll(
            lambda http=http: http.get("/v1/employees", bearer(token)).status == 401,
            within=5,
            what="the revoked key to be refused",
        )
    assert time.monotonic() - revoked_at < 1.0
    for http in connections:
        http.close()


def test_twenty_simultaneous_retries_through_two_instances_create_one_record(
    secured_pair: tuple[Instance, Instance], postgres_url: str
) -> None:
    token = new_token(postgres_url, "retrier", "read,write")
    headers = {**bearer(token), "Idempotency-Key": "order-20"}
    body = {"name": "Once", "email": "once@example.com"}
    connections = [secured_pair[i % 2].http() for i in range(20)]
    for http in connections:
        http.connect()
    barrier = threading.Barrier(len(connections))
    replies: list[Reply] = []
    lock = threading.Lock()

    def retry(http: Http) -> None:
        barrier.wait(timeout=10)
        reply = http.request("POST", "/v1/employees", body, headers)
        with lock:
            replies.append(reply)

    threads = [threading.Thread(target=retry, args=(c,)) for c in connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    fresh = [
        r for r in replies if r.status == 201 and "idempotent-replayed" not in r.headers
    ]
    replayed = [r for r in replies if r.headers.get("idempotent-replayed") == "true"]
    in_flight = [r for r in replies if r.status == 409]
    assert len(replies) == 20
    assert len(fresh) == 1
    assert len(fresh) + len(replayed) + len(in_flight) == 20
    assert all(r.body == fresh[0].body for r in replayed)
    page = ok(connections[0].get("/v1/employees?limit=500", bearer(token))).json
    assert [e["email"] for e in page["items"]].count("once@example.com") == 1
    for http in connections:
        http.close()


def test_no_token_or_secret_reaches_storage_logs_or_listings(
    secured_pair: tuple[Instance, Instance], postgres_url: str, redis_db: redis.Redis
) -> None:
    outputs: list[str] = []
    made = [
        keys_cli(postgres_url, "create", "--name", n, "--scopes", "read,write")
        for n in ("leak-a", "leak-b")
    ]
    tokens = [m.stdout.strip() for m in made]
    outputs += [m.stderr for m in made]
    a, b = (instance.http() for instance in secured_pair)
    ok(a.get("/v1/managers", bearer(tokens[0])))
    ok(a.request("POST", "/v1/managers", {"name": "L", "email": "l@x.org"},
                 {**bearer(tokens[1]), "Idempotency-Key": tokens[1]}))  # fmt: skip
    assert b.get("/v1/managers", bearer(tokens[0][:-2] + "zz")).status == 401
    assert b.get("/v1/managers", {"Authorization": tokens[0]}).status == 401
    # Misplaced: no colon (gunicorn's parser refuses the line), and as an id.
    outputs += [
        raw_body(a.port, f"Authorization Bearer {tokens[0]}"),
        raw_body(b.port, f"X-Request-ID: {tokens[1]}"),
    ]
    revoked = keys_cli(postgres_url, "revoke", "leak-b")
    outputs += [revoked.stdout, revoked.stderr]
    assert b.get("/v1/managers", bearer(tokens[1])).status in (200, 401)
    listing = keys_cli(postgres_url, "list")
    outputs += [listing.stdout, listing.stderr]
    assert "leak-a" in listing.stdout and "leak-b" in listing.stdout
    dump = subprocess.run(
        ["pg_dump", "--data-only", postgres_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "leak-a" in dump  # the dump holds the keys' rows, only not their tokens
    redis_dump = [str(redis_db.dump(k)) + str(k) for k in redis_db.keys("*")]
    logs = [
        poll(  # written by each worker's log writer, in its own time
            lambda i=instance: access_lines_in(i.log_path),
            within=10,
            what="the access lines (ACCESS_LOG=-)",
        )
        for instance in secured_pair
    ]
    for place, text in [
        ("database", dump),
        ("redis", "\n".join(redis_dump)),
        ("logs", "\n".join(logs)),
        ("command line", "\n".join(outputs)),
    ]:
        # A token's secret part is all after its second "_" (it may hold "_").
        for secret in (*tokens, *(t.split("_", 2)[2] for t in tokens), SECRET):
            assert secret not in text, f"a secret leaked into the {place}"
    a.close()
    b.close()


def raw_body(port: int, header_line: str) -> str:
    """The body of the answer to a request carrying header_line as sent."""
    request = (
        f"GET /v1/managers HTTP/1.1\r\nHost: api\r\n{header_line}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(request)
        received = b""
        while chunk := client.recv(65536):
            received += chunk
    return received.partition(b"\r\n\r\n")[2].decode(errors="replace")


def access_lines_in(log_path: Path) -> str | None:
    """The log, once gunicorn's access lines are in it (they carry rid=)."""
    text = log_path.read_text(errors="replace")
    return text if text.count("rid=") >= 2 else None


RAW_SPELLINGS = [
    ("/v1/employees", "employees"),
    ("//v1/employees", "employees"),
    ("///v1/employees", "employees"),
    ("//v1/employees/1", "employees"),
    ("/%2Fv1/employees", "employees"),
    ("/%2f%2Fv1/employees", "employees"),
    ("//v1/managers", "managers"),
    ("/v1/managers/%31", "managers"),
    ("/v1%2Femployees", "employees"),
    ("/v1//employees", "employees"),
]


def test_raw_path_spellings_are_limited_in_their_group_or_are_404(
    postgres_url: str, tmp_path: Path
) -> None:
    """The issue's probe, replayed against gunicorn with paths sent as-is."""
    shared_redis().close()
    empty_database(postgres_url)
    instance = Instance(
        {
            "DATABASE_URL": postgres_url,
            "REDIS_URL": services.REDIS_URL,
            "RATE_LIMIT_EMPLOYEES": "2/minute",
            "RATE_LIMIT_MANAGERS": "2/minute",
            "SECRET_KEY": SECRET,
            "AUTH_DISABLED": "0",
        },
        tmp_path / "gunicorn.log",
    ).start()
    try:
        http = instance.http()
        for n, (path, group) in enumerate(RAW_SPELLINGS):
            token = new_token(postgres_url, f"spelling-{n}", "read,write")
            replies = [http.get(path, bearer(token)) for _ in range(3)]
            statuses = [r.status for r in replies]
            assert statuses[:2] in ([200, 200], [404, 404]), (path, statuses)
            assert statuses[2] == 429, (path, statuses)
            policy = f'"{group}";q=2;w=60'
            assert all(r.headers["ratelimit-policy"] == policy for r in replies), path
        token = new_token(postgres_url, "poster", "read,write")
        emails = ("p1@x.org", "p2@x.org", "p3@x.org", "p4@x.org")
        posts = [
            http.request(
                "POST", "//v1/employees", {"name": "P", "email": e}, bearer(token)
            )
            for e in emails
        ]
        assert [p.status for p in posts] == [201, 201, 429, 429]
        http.close()
    finally:
        instance.stop()


def test_two_deployments_sharing_one_redis_database_never_meet(
    postgres_url: str, tmp_path: Path, redis_db: redis.Redis
) -> None:
    admin = open_database(services.POSTGRES_ADMIN_URL)
    other = services.new_database_name()
    other_url = services.with_database(postgres_url, other)
    admin.execute_sql(f'CREATE DATABASE "{other}"')
    employee_api("migrate", env={"DATABASE_URL": other_url}, check=True)
    empty_database(postgres_url)
    common = {"REDIS_URL": services.REDIS_URL, "RATE_LIMIT_EMPLOYEES": "4/minute"}
    one = Instance({**common, "DATABASE_URL": postgres_url}, tmp_path / "one.log")
    two = Instance({**common, "DATABASE_URL": other_url}, tmp_path / "two.log")
    try:
        http_one, http_two = one.start().http(), two.start().http()
        for http, name in ((http_one, "In One"), (http_two, "In Two")):
            ok(
                http.request(
                    "POST", "/v1/employees", {"name": name, "email": "e@x.org"}
                )
            )
        # Each reads its own record twice: from its database, then from the cache.
        for http, name in ((http_one, "In One"), (http_two, "In Two")):
            for _ in range(2):
                assert ok(http.get("/v1/employees/1")).json["name"] == name
        # Three requests each so far: a fourth and fifth spend one's quota of 4.
        assert [http_one.get("/v1/employees").status for _ in range(2)] == [200, 429]
        assert http_two.get("/v1/employees").status == 200  # two's is its own
        prefixes = {k.split(b":")[1] for k in redis_db.keys("ema:*")}
        assert len(prefixes) == 2
        http_one.close()
        http_two.close()
    finally:
        one.stop()
        two.stop()
        admin.execute_sql(f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)')
        admin.close_all()

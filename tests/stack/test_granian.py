"""granian in the image, in the compose stack: a replica started with
SERVER=granian beside the stack's gunicorn replicas, on the same PostgreSQL
and Redis, serves a write that the others then read, and a stop drains it
(readiness 503 for DRAIN_SECONDS) and exits 0."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stack.support import (
    CLIENT_B,
    IMAGE,
    NGINX,
    PROJECT,
    SECRETS,
    Stack,
    docker,
    health,
    logs_of,
    wait_until,
)

# In a throwaway container on the stack's network: a POST to the granian
# replica, then a GET of that record through nginx (the gunicorn replicas).
WRITE_THERE_READ_HERE = """
import http.client, json, sys
granian, nginx, token = sys.argv[1:4]
auth = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
one = http.client.HTTPConnection(granian, 8000, timeout=10)
body = json.dumps({"name": "G", "email": "granian@example.org"})
one.request("POST", "/v1/employees", body, auth)
created = one.getresponse()
record = json.loads(created.read())
two = http.client.HTTPConnection(nginx, 80, timeout=10)
two.request("GET", "/v1/employees/%d" % record["id"], headers=auth)
read = two.getresponse()
again = json.loads(read.read())
print(json.dumps({"created": created.status, "read": read.status,
                  "record": record, "again": again}))
"""


@pytest.fixture
def granian_replica(stack: Stack) -> Iterator[str]:
    database = (
        f"postgresql://employees:{SECRETS['POSTGRES_PASSWORD']}@postgres:5432/employees"
    )
    container = docker(
        "run", "--detach", "--network", f"{PROJECT}_default",
        "--health-interval", "1s", "--stop-timeout", "20",
        "-e", f"DATABASE_URL={database}",
        "-e", f"REDIS_URL=redis://:{SECRETS['REDIS_PASSWORD']}@redis:6379/0",
        "-e", f"SECRET_KEY={SECRETS['SECRET_KEY']}",
        "-e", "SERVER=granian", "-e", "DRAIN_SECONDS=2", "-e", "MIGRATE_ON_START=0",
        IMAGE,
    ).strip()  # fmt: skip
    yield container
    docker("rm", "--force", container, check=False)


def test_a_granian_replica_serves_beside_gunicorn_and_drains_on_stop(
    stack: Stack, granian_replica: str
) -> None:
    wait_until(lambda: health(granian_replica) == "healthy", "granian replica healthy")
    address = docker(
        "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        granian_replica,
    ).strip()  # fmt: skip
    token = stack.new_key("granian-replica")
    seen = stack.in_network(CLIENT_B, WRITE_THERE_READ_HERE, address, NGINX, token)
    assert (seen["created"], seen["read"]) == (201, 200), seen
    assert seen["again"] == seen["record"]
    assert "Starting granian" in logs_of(granian_replica)

    docker("stop", granian_replica)
    assert (
        docker("inspect", "-f", "{{.State.ExitCode}}", granian_replica).strip() == "0"
    )
    logs = logs_of(granian_replica)
    assert "draining: readiness answers 503 for 2 s, then a graceful stop" in logs
    assert "Granian shutdown completed" in logs

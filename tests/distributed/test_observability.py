"""Metrics and logs of a real server with two workers (gunicorn, then
granian), PostgreSQL and Redis.

/metrics sums every worker's counts, so whichever worker answers reports the
totals the client sent, and a worker killed and replaced takes none of its
counts with it. Logs are JSON lines, one per request, with no token in them.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.distributed.support import Instance, new_token
from tests.support import services
from tests.support.http_clients import Http, ok
from tests.support.polling import poll
from tests.support.services import empty_database, shared_redis

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

SECRET = "observability-tests-secret-key-0123456789"
REQUESTS = 1000


def totals(http: Http) -> Counter[tuple[str, str, str]]:
    """http_requests_total by (route, method, status) of the client's routes
    (/metrics, and the readiness probe that started the instance, left out)."""
    found: Counter[tuple[str, str, str]] = Counter()
    text = ok(http.get("/metrics")).body.decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            ours = not labels.get("route", "/").startswith(("/metrics", "/health"))
            if sample.name == "http_requests_total" and ours:
                key = (labels["route"], labels["method"], labels["status"])
                found[key] = int(sample.value)
    return found


def worker_pids(master: int) -> set[int]:
    done = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(master)],
        capture_output=True,
        text=True,
        check=True,
    )
    return {int(pid) for pid in done.stdout.split()}


@pytest.fixture
def instance(postgres_url: str, tmp_path: Path, http_server: str) -> Instance:
    shared_redis().close()
    empty_database(postgres_url)
    return Instance(
        {
            "DATABASE_URL": postgres_url,
            "REDIS_URL": services.REDIS_URL,
            "WEB_CONCURRENCY": "2",
            "SECRET_KEY": SECRET,
            "AUTH_DISABLED": "0",
            "RATE_LIMIT_EMPLOYEES": "100000/minute",
            "RATE_LIMIT_MANAGERS": "100000/minute",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "info",
        },
        tmp_path / "server.log",
        server=http_server,
    )


def test_every_worker_reports_the_totals_sent_and_a_killed_worker_loses_none(
    instance: Instance, postgres_url: str
) -> None:
    token = new_token(postgres_url, SECRET, "obs", "read,write")
    instance.start()
    auth = {"Authorization": f"Bearer {token}"}
    sent: Counter[tuple[str, str, str]] = Counter()
    shapes = [
        ("GET", "/v1/employees", "/v1/employees"),
        ("GET", "/v1/managers", "/v1/managers"),
        ("GET", "/v1/employees/{n}", "/v1/employees/{employee_id}"),
        ("GET", "/v1/managers/{n}/employees", "/v1/managers/{manager_id}/employees"),
        ("POST", "/v1/managers", "/v1/managers"),
        ("GET", "/v1/nowhere", "(unmatched)"),
    ]
    rng = random.Random(7)
    # Fresh connections now and then, so both workers answer some requests.
    connections = [instance.http() for _ in range(8)]
    for n in range(REQUESTS):
        method, path, route = rng.choice(shapes)
        body = {"name": "M", "email": f"m{n}@x.org"} if method == "POST" else None
        reply = connections[n % 8].request(
            method, path.format(n=rng.randint(1, 50)), body, auth
        )
        sent[(route, method, str(reply.status))] += 1
    assert sum(sent.values()) == REQUESTS
    for _ in range(6):  # new connections: either worker may answer each
        scraper = instance.http()
        assert totals(scraper) == sent
        scraper.close()

    assert instance._process is not None
    before = worker_pids(instance._process.pid)
    assert len(before) == 2
    os.kill(sorted(before)[0], signal.SIGKILL)
    poll(
        lambda: len(worker_pids(instance._process.pid) - before) == 1,  # type: ignore[union-attr]
        within=30,
        what="the server to replace the killed worker",
    )
    for _ in range(6):
        scraper = instance.http()
        assert totals(scraper) == sent
        scraper.close()
    for http in connections:
        http.close()

    lines = [json.loads(line) for line in instance.log_path.read_text().splitlines()
             if line.startswith("{")]  # fmt: skip
    requests = [line for line in lines if line["logger"] == "api.request"]
    ours = [r for r in requests if r["route"].startswith(("/v1", "("))]
    assert len(ours) == REQUESTS
    first = ours[0]
    assert {"time", "level", "request_id", "method", "route", "status",
            "duration_ms", "client"} <= set(first)  # fmt: skip
    assert first["client"] == f"key:{token.split('_')[1]}"
    assert token not in instance.log_path.read_text()
    instance.stop()


def test_a_method_the_router_refuses_is_answered_and_counted(tmp_path: Path) -> None:
    """Falcon refuses WEBSOCKET before any middleware runs: still no 500."""
    instance = Instance(
        {"DATABASE_URL": "memory://", "AUTH_DISABLED": "1"}, tmp_path / "g.log"
    ).start()
    try:
        http = instance.http()
        reply = http.request("WEBSOCKET", "/v1/employees")
        assert reply.status < 500
        assert reply.headers["x-request-id"]
        http.close()
        assert "Traceback" not in instance.log_path.read_text()
    finally:
        instance.stop()

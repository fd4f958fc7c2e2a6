"""Connection storms on a fresh server, as production runs it (two workers,
PostgreSQL, Redis): thousands of clients at once get their answers (under
gunicorn and granian), or a 503 at a worker's cap, never a 500, and no
worker dies, also with the common `ulimit -n 1024` (gunicorn's cap)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.distributed.support import Instance
from tests.faults.harness import worker_pids
from tests.support import services

REQUEST = b"GET /v1/managers?limit=5 HTTP/1.1\r\nHost: api\r\n\r\n"


async def one_exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> int | None:
    """Sends REQUEST and reads its answer: the status, or None if the
    connection ended first."""
    writer.write(REQUEST)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)
    return status


async def client(port: int, requests: int) -> list[int | None]:
    """One connection, `requests` requests on it in turn (kept alive)."""
    statuses: list[int | None] = []
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return [None]
    try:
        for _ in range(requests):
            statuses.append(await one_exchange(reader, writer))
            if statuses[-1] == 503:
                break  # refused at the cap: the server closes
    except (OSError, asyncio.IncompleteReadError):
        statuses.append(None)
    finally:
        writer.close()
    return statuses


def storm(port: int, connections: int, requests: int) -> Counter[int | None]:
    async def all_at_once() -> Counter[int | None]:
        done = await asyncio.wait_for(
            asyncio.gather(*(client(port, requests) for _ in range(connections))),
            timeout=120,
        )
        return Counter(status for statuses in done for status in statuses)

    return asyncio.run(all_at_once())


def production_instance(
    postgres_url: str,
    tmp_path: Path,
    open_files: int | None = None,
    server: str = "gunicorn",
) -> Instance:
    """A fresh server: nothing in its pool, nothing in its cache."""
    services.empty_database(postgres_url)
    return Instance(
        {
            "DATABASE_URL": postgres_url,
            "REDIS_URL": services.REDIS_URL,
            "WEB_CONCURRENCY": "2",
            "RATE_LIMIT_MANAGERS": "100000000/minute",
            # Every read goes to PostgreSQL: the pool grows under the storm,
            # its new connections numbered above the clients' sockets.
            "RESPONSE_CACHE": "0",
            "LOG_LEVEL": "info",
        },
        tmp_path / "server.log",
        open_files=open_files,
        server=server,
    )


@pytest.fixture
def production(
    postgres_url: str, redis_db: redis.Redis, tmp_path: Path, http_server: str
) -> Iterator[Instance]:
    instance = production_instance(postgres_url, tmp_path, server=http_server)
    yield instance
    instance.stop()


@pytest.mark.postgres
@pytest.mark.redis
def test_3000_connections_at_once_then_2400_kept_alive_get_no_500(
    production: Instance,
) -> None:
    production.start()
    workers = worker_pids(production)
    at_once = storm(production.port, connections=3000, requests=1)
    kept_alive = storm(production.port, connections=2400, requests=5)
    assert set(at_once) == {200}, at_once
    assert set(kept_alive) == {200}, kept_alive
    assert worker_pids(production) == workers
    assert "WORKER TIMEOUT" not in production.log_path.read_text()


@pytest.mark.postgres
@pytest.mark.redis
def test_with_ulimit_1024_a_storm_is_served_or_refused_and_nothing_crashes(
    postgres_url: str, redis_db: redis.Redis, tmp_path: Path
) -> None:
    instance = production_instance(postgres_url, tmp_path, open_files=1024)
    instance.start()
    try:
        workers = worker_pids(instance)
        at_once = storm(instance.port, connections=3000, requests=1)
        kept_alive = storm(instance.port, connections=2400, requests=5)
        log = instance.log_path.read_text()
        assert set(at_once) <= {200, 503} and at_once[200] > 0, at_once
        assert set(kept_alive) <= {200, 503} and kept_alive[200] > 0, kept_alive
        assert worker_pids(instance) == workers  # none died, none restarted
        assert "open files: 1024 (was 1024)" in log
        assert (
            f"each of the 2 workers listens on http://127.0.0.1:{instance.port}" in log
        )
        assert "WORKER TIMEOUT" not in log and "Traceback" not in log
    finally:
        instance.stop()

"""How much a Redis outage costs a request once the circuit breaker is open.

Runs the same sequential workload (one keep-alive connection; 90% GETs of
single records, 10% PATCHes) against instances of the app on one database:
  healthy  - REDIS_URL at a live Redis
  refused  - REDIS_URL at a loopback port where nothing listens
  hung     - REDIS_URL at a loopback port that accepts and never answers
             (every attempt costs the full 250 ms timeout)
  no-redis - no REDIS_URL at all (in-process cache and limiter)
and prints the median and p95 latency of each, and each outage's added
median over healthy Redis. Target: under 5 ms added median.

    .venv/bin/python -m bench.redis_outage [--requests 2000]
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/bench  (default: a SQLite file)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import tempfile
import threading
import time

from bench.server import free_port, gunicorn, request

UNLIMITED = {
    "RATE_LIMIT_EMPLOYEES": "1000000/minute",
    "RATE_LIMIT_MANAGERS": "1000000/minute",
    "AUTH_DISABLED": "1",  # this measures Redis's cost; keys are not in question
}


def blackhole() -> int:
    """A loopback port that accepts connections and never answers on them."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    held: list[socket.socket] = []

    def accept_forever() -> None:
        while True:
            held.append(listener.accept()[0])

    threading.Thread(target=accept_forever, daemon=True).start()
    return int(listener.getsockname()[1])


def workload(port: int, ids: list[int], count: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    timings = []
    for i in range(count):
        employee_id = ids[i % len(ids)]
        start = time.perf_counter()
        if i % 10 == 9:
            body = json.dumps({"title": f"t{i}"}).encode()
            status, _ = request(
                port, "PATCH", f"/v1/employees/{employee_id}", body, conn
            )
        else:
            status, _ = request(port, "GET", f"/v1/employees/{employee_id}", None, conn)
        timings.append(time.perf_counter() - start)
        if status != 200:
            raise RuntimeError(f"unexpected status {status}")
    conn.close()
    return timings


def seed(port: int, n: int) -> list[int]:
    ids = []
    stamp = time.time_ns()
    for i in range(n):
        body = json.dumps({"name": f"Bench {i}", "email": f"b{stamp}-{i}@example.com"})
        status, data = request(port, "POST", "/v1/employees", body.encode())
        if status != 201:
            raise RuntimeError(f"seeding failed: {status} {data!r}")
        ids.append(json.loads(data)["id"])
    return ids


def measure(name: str, env: dict[str, str], ids: list[int], count: int) -> list[float]:
    with gunicorn(env) as port:
        workload(port, ids, 200)  # warm up: connections, breaker opened
        timings = workload(port, ids, count)
    ms = sorted(t * 1000 for t in timings)
    print(
        f"{name:>9}: median {statistics.median(ms):6.2f} ms"
        f"   p95 {ms[int(len(ms) * 0.95)]:6.2f} ms   ({count} requests)"
    )
    return ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = os.environ.get(
            "BENCH_DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3"
        )
        base = {"DATABASE_URL": database, **UNLIMITED}
        from bootstrap import migrate
        from settings import AuthSettings, Settings

        migrate(Settings(database_url=database, auth=AuthSettings(disabled=True)))
        with gunicorn(base) as port:
            ids = seed(port, 50)
        urls = {
            "refused": f"redis://127.0.0.1:{free_port()}/0",
            "hung": f"redis://127.0.0.1:{blackhole()}/0",
        }
        healthy = measure(
            "healthy", {**base, "REDIS_URL": args.redis_url}, ids, args.requests
        )
        outages = {
            name: measure(name, {**base, "REDIS_URL": url}, ids, args.requests)
            for name, url in urls.items()
        }
        measure("no-redis", base, ids, args.requests)
    worst = 0.0
    for name, timings in outages.items():
        added = statistics.median(timings) - statistics.median(healthy)
        worst = max(worst, added)
        print(f"{name} adds {added:+.2f} ms to the median over healthy Redis")
    print("PASS" if worst < 5 else "FAIL", "(target: < 5 ms added median)")


if __name__ == "__main__":
    main()

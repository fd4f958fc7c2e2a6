"""`make bench-prune`: pruning a million expired changes while writers write.

On a fresh PostgreSQL database (BENCH_POSTGRES_URL's server, database
bench_prune): a million changes older than the retention, then writer
threads creating and patching employees (each write also writes its change)
for a baseline, then the same writers while the service's pruner
(ChangeFeed.prune, the FeedKeeper's batches of 1,000, one transaction each)
removes the million. Prints the writes' latency before and during the
pruning, the longest single write, and the pruner's pace. The target: no
write held up more than 100 ms while pruning runs.

    make bench-prune                 # BENCH_PRUNE_ROWS=1000000
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import threading
import time
from datetime import timedelta

import bootstrap
from adapters.clock import SystemClock
from adapters.sql.database import open_database
from adapters.sql.storage import SqlStorage
from bench.world import ADMIN
from domain.errors import DomainError
from domain.model import EmployeeDraft
from domain.services import ChangeFeed, EmployeeService
from entrypoints.http.feed_keeper import PRUNE_BATCH
from settings import PoolSettings, Settings

ROWS = int(os.environ.get("BENCH_PRUNE_ROWS", "1000000"))
WRITERS = int(os.environ.get("BENCH_PRUNE_WRITERS", "4"))
BASELINE_SECONDS = 5.0
LIMIT_MS = 100.0
_OLD = f"""
INSERT INTO change (position, resource, record_id, action, version, at, data)
SELECT 1, 'employee', n, 'updated', 2, now() - interval '8 days',
       jsonb_build_object('id', n, 'name', 'Employee ' || n,
                          'email', 'e' || n || '@example.com', 'version', 2)
FROM generate_series(1, {ROWS}) AS n
"""


def prepare() -> str:
    admin = open_database(ADMIN)
    admin.execute_sql('DROP DATABASE IF EXISTS "bench_prune" WITH (FORCE)')
    admin.execute_sql('CREATE DATABASE "bench_prune"')
    admin.close_all()
    url = ADMIN.rsplit("/", 1)[0] + "/bench_prune"
    bootstrap.migrate(Settings(database_url=url))
    db = open_database(url, PoolSettings(statement_timeout_ms=0))
    began = time.monotonic()
    db.execute_sql(_OLD)
    db.execute_sql("VACUUM ANALYZE change")
    print(f"{ROWS:,} expired changes written in {time.monotonic() - began:.1f} s")
    db.close_all()
    return url


class Writers:
    def __init__(self, service: EmployeeService) -> None:
        self.service = service
        self.latencies: list[tuple[float, float]] = []  # (when, seconds)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ids: list[int] = []

    def run(self, n: int) -> None:
        rng = random.Random(n)
        i = 0
        while not self.stop.is_set():
            i += 1
            began = time.monotonic()
            try:
                if not self.ids or rng.random() < 0.3:
                    email = f"w{n}-{i}@example.com"
                    made = self.service.create(EmployeeDraft(f"W {n} {i}", email))
                    with self.lock:
                        self.ids.append(made.id)
                else:
                    target = rng.choice(self.ids)
                    self.service.patch(target, {"title": f"T{i}"}, None)
            except DomainError as exc:
                print(f"write failed: {exc}", file=sys.stderr)
                continue
            with self.lock:
                self.latencies.append((began, time.monotonic() - began))


def summary(latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[int(len(ms) * 0.99)] if ms else 0.0
    return (
        f"{len(ms):,} writes, p50 {statistics.median(ms):.1f} ms, "
        f"p99 {p99:.1f} ms, max {ms[-1]:.1f} ms"
    )


def main() -> int:
    url = prepare()
    db = open_database(url, PoolSettings(max_connections=WRITERS + 4))
    storage, clock = SqlStorage(db), SystemClock()
    writers = Writers(EmployeeService(storage, clock))
    threads = [threading.Thread(target=writers.run, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    time.sleep(BASELINE_SECONDS)  # the baseline's length, not a synchronisation
    pruning_from = time.monotonic()
    feed = ChangeFeed(storage, clock)
    removed = feed.prune("bench", 30.0, timedelta(days=7), PRUNE_BATCH)
    pruning_until = time.monotonic()
    writers.stop.set()
    for thread in threads:
        thread.join()
    db.close_all()
    before = [s for when, s in writers.latencies if when < pruning_from]
    during = [
        s for when, s in writers.latencies if pruning_from <= when < pruning_until
    ]
    took = pruning_until - pruning_from
    pace = (removed or 0) / took
    print(f"pruned {removed or 0:,} changes in {took:.1f} s "
          f"({pace:,.0f} a second, batches of {PRUNE_BATCH:,})")  # fmt: skip
    print(f"{WRITERS} writers before pruning: {summary(before)}")
    print(f"{WRITERS} writers while pruning:  {summary(during)}")
    longest = max(during) * 1000
    verdict = "met" if longest <= LIMIT_MS else "NOT met"
    print(f"longest write while pruning: {longest:.1f} ms "
          f"(target <= {LIMIT_MS:.0f} ms: {verdict})")  # fmt: skip
    return 0 if removed == ROWS and longest <= LIMIT_MS else 1


if __name__ == "__main__":
    sys.exit(main())

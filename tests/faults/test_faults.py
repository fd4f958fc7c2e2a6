"""Faults under load against two production-configured instances: Redis
killed, PostgreSQL frozen and stopped, a worker SIGKILLed. Each ends with the
journal check and every record read back from both instances."""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from entrypoints.http.feed_keeper import SWEEP_BOUND_SECONDS
from tests.faults.harness import World, kill_a_worker, world
from tests.faults.journal import (
    EMPLOYEE_ROWS,
    FIELDS,
    ORPHANS,
    Journal,
    LoadThread,
    check,
)
from tests.support.polling import poll, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

THREADS = 16
# A frozen database costs DB_STATEMENT_TIMEOUT_MS (1 s here) + 2 s.
DEADLINE = 3.0
FREEZE = float(os.environ.get("FAULT_FREEZE_SECONDS", "10"))
STOPPED = float(os.environ.get("FAULT_STOP_SECONDS", "5"))


@pytest.fixture
def stack(tmp_path: Path, http_server: str) -> Iterator[World]:
    with world(tmp_path, server=http_server) as running:
        yield running


@contextmanager
def load(stack: World) -> Iterator[Journal]:
    journal = Journal()
    stop = threading.Event()
    threads = [LoadThread(n, stack.ports, journal, stop) for n in range(THREADS)]
    for thread in threads:
        thread.set_up()
    for thread in threads:
        thread.start()
    try:
        yield journal
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


def progress(journal: Journal, requests: int) -> None:
    """Lets the load answer this many more requests."""
    target = len(journal.entries) + requests
    poll(
        lambda: len(journal.entries) >= target, within=120, what=f"{requests} requests"
    )


def first_success_after(journal: Journal, moment: float) -> float:
    """Seconds from `moment` until a write was next acknowledged."""
    poll(
        lambda: any(
            e.began >= moment and e.status in (200, 201, 204) and e.method != "GET"
            for e in journal.entries
        ),
        within=60,
        what="a write to succeed again",
    )
    return (
        min(
            e.began + e.seconds
            for e in journal.entries
            if e.began >= moment and e.status in (200, 201, 204) and e.method != "GET"
        )
        - moment
    )


def verify(stack: World, journal: Journal, settle: float = 0.0) -> None:
    """The journal check, then every record read back from both instances.
    settle: how long reads may still differ from the database (a write whose
    worker died between its commit and its invalidation is invalidated by the
    change feed's sweep within its bound, not at once)."""
    rows = stack.postgres.query(EMPLOYEE_ROWS)
    orphans = int(stack.postgres.query(ORPHANS)[0][0])  # type: ignore[call-overload]
    problems = check(journal, rows, orphans)
    stored = {row[0]: dict(zip(FIELDS, row[1:], strict=True)) for row in rows}
    assert not journal.stale_reads, journal.stale_reads[:5]
    assert not journal.unexpected, journal.unexpected[:5]
    assert not problems, problems[:5]
    if settle:
        began = time.monotonic()
        poll(lambda: not differences(stack, journal, stored), within=settle,
             what="every read to agree with the database")  # fmt: skip
        print(f"reads agreed with the database after {time.monotonic() - began:.2f} s")
    unequal = differences(stack, journal, stored)
    assert not unequal, unequal[:5]


def differences(
    stack: World, journal: Journal, stored: dict[object, dict[str, object]]
) -> list[str]:
    """Each record that an instance reads other than the database holds it."""
    found = []
    for port in stack.ports:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for employee in journal.records:
            connection.request("GET", f"/v1/employees/{employee}")
            answer = connection.getresponse()
            body = answer.read()
            seen = (
                {k: json.loads(body)[k] for k in FIELDS}
                if answer.status == 200
                else None
            )
            if seen != stored.get(employee):
                found.append(f"port {port} reads {employee} as {seen}")
        connection.close()
    return found


def report(name: str, journal: Journal, **facts: object) -> None:
    print(
        f"\n{name}: {len(journal.entries)} requests, {dict(journal.summary())},"
        f" slowest {journal.worst_seconds():.2f} s, {len(journal.records)} records",
        *(f"{k}={v}" for k, v in facts.items()),
    )


def test_redis_killed_and_restarted_under_load(stack: World) -> None:
    with load(stack) as journal:
        progress(journal, 500)
        stack.redis.stop()
        progress(journal, 500)
        stack.redis.start()
        progress(journal, 1000)
    report("redis killed", journal)
    assert journal.summary().keys() <= {"2xx"}, journal.summary()
    verify(stack, journal)


def test_postgres_frozen_then_stopped_under_load(stack: World) -> None:
    with load(stack) as journal:
        progress(journal, 500)
        stack.proxy.freeze()
        wait_for(FREEZE)
        stack.proxy.thaw()
        after_freeze = first_success_after(journal, time.monotonic())
        progress(journal, 300)
        stack.postgres.stop()
        wait_for(STOPPED)
        stack.postgres.start()
        after_stop = first_success_after(journal, time.monotonic())
        progress(journal, 500)
    report(
        "postgres frozen and stopped", journal,
        recovered_after_freeze=f"{after_freeze:.2f}s",
        recovered_after_stop=f"{after_stop:.2f}s",
    )  # fmt: skip
    slow = [e for e in journal.entries if e.seconds > DEADLINE + 0.5]
    assert not slow, slow[:5]
    failed = [e for e in journal.entries if e.status is None or e.status >= 500]
    odd = [e for e in failed if e.status != 503 or not e.retry_after]
    assert not odd, odd[:5]
    assert failed, "the faults were felt"
    assert journal.worst_seconds() <= DEADLINE + 0.5
    assert after_freeze < 5 and after_stop < 5
    verify(stack, journal)


def test_a_worker_killed_mid_request_fails_only_its_own(stack: World) -> None:
    with load(stack) as journal:
        progress(journal, 500)
        killed_at = time.monotonic()
        kill_a_worker(stack.instances[0])
        progress(journal, 1000)
    failed = [e for e in journal.entries if e.status is None or e.status >= 500]
    report("worker killed", journal, failed=len(failed))
    # At most one request in flight, or one kept-alive connection, per thread.
    assert len(failed) <= THREADS
    assert all(e.status is None and e.began <= killed_at + 1 for e in failed), failed
    # The killed worker may have committed a write it never invalidated.
    verify(stack, journal, settle=SWEEP_BOUND_SECONDS + 5)

"""Deadlines on PostgreSQL round trips: one per unit of work, counted from
the request's arrival, and a client-side limit on every exchange.

statement_timeout and keepalives cannot end a request whose server (or a
proxy before it) stopped answering while keeping the connection open; the
request would hang and pin a worker thread. psycopg2 calls wait_with_deadline
on every round trip (it has no per-connection wait callback, so the limit is
process-wide), and the pool waits for a free connection no longer than the
unit of work may last."""

from __future__ import annotations

import math
import select
import threading
import time
from typing import Any

import psycopg2
import psycopg2.extensions

# How long one round trip may take: the statement timeout plus slack for the
# network; None when statements may run as long as they like (migrations).
_limit: dict[str, float | None] = {"seconds": 10.0}
# The deadline of the unit of work this thread runs, if any: one budget for
# the pool's check-out, any reconnect and every statement together.
_work = threading.local()


def limit_round_trips(statement_timeout_ms: int) -> None:
    """Every round trip, in this process, ends within the statement timeout
    plus 2 s of slack (no limit for a timeout of 0)."""
    seconds = statement_timeout_ms / 1000 + 2 if statement_timeout_ms > 0 else None
    _limit["seconds"] = seconds
    psycopg2.extensions.set_wait_callback(wait_with_deadline)


def work_begins(arrived_at: float) -> None:
    """Until work_ends(), this thread's database calls share one deadline,
    counted from the request's arrival (time.monotonic()): a frozen server
    costs a request the limit once, not once per pooled connection the pool
    tries, once more to reconnect, and again for the time it queued behind
    stuck requests."""
    limit = _limit["seconds"]
    _work.until = None if limit is None else arrived_at + limit


def work_ends() -> None:
    _work.until = None


def work_deadline() -> float | None:
    """When this thread's unit of work must end (time.monotonic()), if any."""
    until: float | None = getattr(_work, "until", None)
    return until


def wait_with_deadline(conn: Any) -> None:
    """psycopg2's wait callback: raising ends the request, and the unit of
    work drops the connection."""
    limit = _limit["seconds"]
    deadline = None if limit is None else time.monotonic() + limit
    until = work_deadline()
    if until is not None:
        deadline = until if deadline is None else min(deadline, until)
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise psycopg2.OperationalError("the database did not answer in time")
        if state == psycopg2.extensions.POLL_READ:
            wait_for(conn.fileno(), select.POLLIN, remaining)
        elif state == psycopg2.extensions.POLL_WRITE:
            wait_for(conn.fileno(), select.POLLOUT, remaining)
        else:
            raise psycopg2.OperationalError(f"unexpected poll state {state}")


def wait_for(fileno: int, events: int, seconds: float | None) -> bool:
    """Whether the descriptor became ready for events within seconds (None:
    no limit). poll, not select: select refuses descriptors from 1,024 on,
    which a server with many clients connected reaches."""
    poller = select.poll()
    poller.register(fileno, events)
    return bool(poller.poll(poll_milliseconds(seconds)))


def poll_milliseconds(seconds: float | None) -> int | None:
    """poll's timeout for seconds: rounded up, so a wait never ends early,
    and 0 kept 0, so a check that must not wait does not (rounding 0 up to a
    millisecond cost every pooled check-out a millisecond; bench/RESULTS.md)."""
    if seconds is None:
        return None
    return max(0, math.ceil(seconds * 1000))

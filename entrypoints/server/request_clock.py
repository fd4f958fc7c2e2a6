"""When the request this thread serves arrived: the one clock its deadlines
run on. The worker sets it as a thread takes a request; bootstrap hands
arrival() to the database adapter, which counts its budget from it, so time
spent queued for a thread, behind requests stuck on a frozen database, is
part of that budget, not added to it."""

from __future__ import annotations

import threading
import time

_current = threading.local()


def request_arrived(at: float) -> None:
    """From the server: the request this thread now serves arrived at `at`
    (time.monotonic())."""
    _current.arrived = at


def request_done() -> None:
    _current.arrived = None


def arrival() -> float:
    """When this thread's request arrived; now, when no server said."""
    arrived = getattr(_current, "arrived", None)
    return time.monotonic() if arrived is None else float(arrived)

"""Waiting for something, bounded: polling loops with a deadline, never a
fixed sleep used as synchronisation."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(
    probe: Callable[[], T | None],
    *,
    within: float,
    what: str,
    every: float = 0.02,
) -> T:
    """probe()'s first truthy answer, asked repeatedly for at most within seconds."""
    deadline = time.monotonic() + within
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {within} s waiting for {what}")
        time.sleep(every)


def wait_for(seconds: float) -> None:
    """Let real time pass (for a rate-limit window to slide), in a bounded loop."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        time.sleep(min(0.01, max(0.0, until - time.monotonic())))

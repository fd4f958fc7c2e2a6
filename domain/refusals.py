"""Refusals remembered until their Retry-After: a client already refused is
answered from this process's memory, with no round trip to the limiter.

Exact for GCRA (every limiter's algorithm here): a refused hit does not move
the client's state, and hits admitted meanwhile, in any process, only move
it later; so a request of at least the refused cost, before the Retry-After
the client was given, would be refused by the limiter too. (Retry-After is
whole seconds, rounded up: a request in its last fraction of a second that
the limiter might have admitted is refused here, as the client was told.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from domain.api_keys import Quota
from domain.ports.rate_limiter import RateDecision

MAX_REMEMBERED = 10_000


class RefusalMemo:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        # (bucket, quota) -> (until, the refused cost, the decision, when)
        self._refused: dict[
            tuple[str, Quota], tuple[float, int, RateDecision, float]
        ] = {}

    def refusal(self, bucket: str, quota: Quota, cost: int) -> RateDecision | None:
        """The decision the limiter would give now, if it is a refusal this
        memo can vouch for; None: ask the limiter."""
        if not self._refused:
            return None  # the usual case: no lock, no clock
        now = self._monotonic()
        with self._lock:
            kept = self._refused.get((bucket, quota))
            if kept is None:
                return None
            until, refused_cost, decision, at = kept
            if until <= now:
                del self._refused[(bucket, quota)]
                return None
        if cost < refused_cost:
            return None  # a smaller request may fit
        passed = now - at
        return replace(
            decision,
            retry_after_seconds=max(1, _ceil(until - now)),
            reset_seconds=max(0, _ceil(decision.reset_seconds - passed)),
        )

    def note(
        self, bucket: str, quota: Quota, cost: int, decision: RateDecision
    ) -> None:
        """After the limiter decided: a refusal is remembered until its
        Retry-After."""
        if decision.allowed:
            return
        now = self._monotonic()
        with self._lock:
            if len(self._refused) >= MAX_REMEMBERED:
                self._forget_expired(now)
            if len(self._refused) >= MAX_REMEMBERED:
                del self._refused[next(iter(self._refused))]
            until = now + decision.retry_after_seconds
            self._refused[(bucket, quota)] = (until, cost, decision, now)

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, v in self._refused.items() if v[0] <= now]:
            del self._refused[key]


def _ceil(seconds: float) -> int:
    whole = int(seconds)
    return whole + 1 if seconds - whole > 1e-6 else whole

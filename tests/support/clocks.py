"""A clock a test moves by hand, read both ways the code reads time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


class ManualClock:
    """Stands still until the test moves it. now() is the wall clock (the
    domain's Clock port: exact timestamps); calling it gives monotonic seconds
    (what TTLs, quotas and the circuit breaker count with). advance() moves
    both together."""

    def __init__(self, start: datetime = START, monotonic: float = 1000.0) -> None:
        self._wall = start
        self._monotonic = monotonic

    def now(self) -> datetime:
        return self._wall

    def __call__(self) -> float:
        return self._monotonic

    def advance(self, seconds: float = 1) -> datetime:
        """Move both readings on; the new wall time."""
        self._wall += timedelta(seconds=seconds)
        self._monotonic += seconds
        return self._wall

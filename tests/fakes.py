"""Small real stand-ins for the outside world, shared by the tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


class ManualClock:
    """A clock that stands still until a test moves it: exact timestamps."""

    def __init__(self, start: datetime = START) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: int = 1) -> datetime:
        self.current += timedelta(seconds=seconds)
        return self.current


class FakeClock:
    """A monotonic clock (float seconds) that moves only when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

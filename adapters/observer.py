"""What adapters report about their backends, for whoever keeps the metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class BackendObserver(Protocol):
    def failures_expected(self, backend: str, kinds: Sequence[str]) -> None:
        """The kinds of failure this backend can report (shown at 0 before
        any happens, so a dashboard sees 0, not "no data")."""

    def backend_failed(self, backend: str, kind: str) -> None:
        """A call to the backend ("database", "redis") failed, and how
        ("timeout", "connection", or an error reply's code such as "moved")."""

    def breaker_changed(self, backend: str, is_open: bool) -> None:
        """The backend's circuit breaker opened or closed."""

    def pool_changed(self, in_use: int, idle: int) -> None:
        """The database pool now holds this many connections."""


class NoObserver:
    def failures_expected(self, backend: str, kinds: Sequence[str]) -> None:
        pass

    def backend_failed(self, backend: str, kind: str) -> None:
        pass

    def breaker_changed(self, backend: str, is_open: bool) -> None:
        pass

    def pool_changed(self, in_use: int, idle: int) -> None:
        pass

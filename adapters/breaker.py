"""A circuit breaker: once a backend fails, stop paying its timeout for a while."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class BreakerOpen(Exception):
    """The backend is known to be down; the call was not attempted."""


class CircuitBreaker:
    """Closed: calls go through. Open: calls fail at once until the cooldown
    ends; then one call probes, and its outcome closes or reopens the circuit.
    Transitions are logged once each, never per request."""

    def __init__(
        self,
        name: str,
        failures: tuple[type[BaseException], ...],
        cooldown_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._failures = failures
        self._cooldown = cooldown_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._open = False
        self._retry_at = 0.0
        self._on_recovery: list[Callable[[], None]] = []

    @property
    def is_open(self) -> bool:
        return self._open

    def on_recovery(self, callback: Callable[[], None]) -> None:
        """Run callback (before anything else) when the backend answers again."""
        self._on_recovery.append(callback)

    def call(self, operation: Callable[[], T]) -> T:
        self._admit()
        try:
            result = operation()
        except self._failures as exc:
            self._trip(exc)
            raise BreakerOpen(self.name) from exc
        if self._open:
            self._recover()
        return result

    def _admit(self) -> None:
        if not self._open:
            return
        with self._lock:
            now = self._clock()
            if now < self._retry_at:
                raise BreakerOpen(self.name)
            self._retry_at = now + self._cooldown  # only this call probes

    def _trip(self, exc: BaseException) -> None:
        with self._lock:
            self._retry_at = self._clock() + self._cooldown
            if not self._open:
                self._open = True
                log.warning(
                    "%s unavailable (%s); degrading until it answers", self.name, exc
                )

    def _recover(self) -> None:
        with self._lock:
            if not self._open:
                return
            try:
                for callback in self._on_recovery:
                    callback()
            except self._failures:
                return  # still flaky: stay open, the next probe retries
            self._open = False
        log.warning("%s answers again; resuming", self.name)

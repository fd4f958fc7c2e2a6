"""A circuit breaker: once a backend keeps failing, stop paying its timeout."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from adapters.observer import BackendObserver, NoObserver

T = TypeVar("T")
log = logging.getLogger(__name__)


class BreakerOpen(Exception):
    """The backend is known to be down; the call was not attempted."""


class CircuitBreaker:
    """Closed: calls go through. After `threshold` failures in a row it opens
    (after one, for a failure in `at_once`: one that does not pass between
    two calls, such as a full Redis refusing writes while it still serves
    reads): calls fail at once until the cooldown ends; then one call probes
    (with `probe` first, when given: a check that every kind of call would
    pass), and its outcome closes or reopens the circuit. Transitions are
    logged once each, not per call."""

    def __init__(
        self,
        name: str,
        failures: tuple[type[BaseException], ...],
        cooldown_seconds: float = 2.0,
        *,
        threshold: int = 3,
        clock: Callable[[], float] = time.monotonic,
        observer: BackendObserver | None = None,
        kind_of: Callable[[BaseException], str] = lambda exc: "error",
        at_once: Callable[[BaseException], bool] = lambda exc: False,
        reason_of: Callable[[BaseException], str] | None = None,
        probe: Callable[[], object] | None = None,
        where: str = "",
    ) -> None:
        """where: which server, for the log lines ("at 10.0.0.5:6379").
        reason_of: what readiness says of a failure (default: its kind)."""
        self.name = name
        self._said = f"{name} at {where}" if where else name
        self._observer = observer or NoObserver()
        self._failures = failures
        self._cooldown = cooldown_seconds
        self._threshold = threshold
        self._clock = clock
        self._lock = threading.Lock()
        self._open = False
        self._failed_in_a_row = 0
        self._retry_at = 0.0
        self._kind_of = kind_of
        self._at_once = at_once
        self._reason_of = reason_of or kind_of
        self._probe = probe
        self._last_failure = ""

    @property
    def trouble(self) -> str | None:
        """While open: the latest failure, as reason_of says it (readiness is
        unauthenticated: no addresses or server messages; the log has them)."""
        return self._last_failure if self._open else None

    @property
    def is_open(self) -> bool:
        return self._open

    def call(self, operation: Callable[[], T], *, force: bool = False) -> T:
        """Run operation; force=True tries even while open (for must-try calls).
        A forced call that passes while open does not close the circuit: on a
        sharded backend it may have reached only the parts that answer."""
        admitted = self._admit(force)
        try:
            result = operation()
        except self._failures as exc:
            self._failed(exc)
            raise BreakerOpen(self.name) from exc
        if admitted != "forced":
            self._succeeded(closes=admitted == "probe")
        return result

    def _admit(self, force: bool) -> str:
        """Raise unless the call may run: "closed", "forced" through while
        open, or the one "probe" (whose success closes the circuit; a call
        let in while closed only counts as a success, since another may have
        opened the circuit while it ran)."""
        if not self._open:
            return "closed"
        with self._lock:
            now = self._clock()
            probing = now >= self._retry_at
            if not (force or probing):
                raise BreakerOpen(self.name)
            if probing:
                self._retry_at = now + self._cooldown  # one probe per cooldown
        if not probing:
            return "forced"
        if self._probe is None:
            return "probe"  # the call itself
        try:
            self._probe()
        except self._failures as exc:
            self._failed(exc)
            if force:
                return "forced"  # a must-try call still tries
            raise BreakerOpen(self.name) from exc
        self._succeeded(closes=True)
        return "closed"

    def _failed(self, exc: BaseException) -> None:
        kind = self._kind_of(exc)
        self._observer.backend_failed(self.name.lower(), kind)
        with self._lock:
            self._last_failure = self._reason_of(exc)
            self._failed_in_a_row += 1
            self._retry_at = self._clock() + self._cooldown
            enough = self._failed_in_a_row >= self._threshold
            if self._open or not (enough or self._at_once(exc)):
                return
            self._open = True
        self._observer.breaker_changed(self.name.lower(), True)
        log.warning("%s unavailable (%s); degrading until it answers", self._said, exc)

    def _succeeded(self, closes: bool) -> None:
        with self._lock:
            if not self._open:
                self._failed_in_a_row = 0
                return
            if not closes:
                return
            self._failed_in_a_row = 0
            self._open = False
        self._observer.breaker_changed(self.name.lower(), False)
        log.warning("%s answers again; resuming", self._said)

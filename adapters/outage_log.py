"""One WARNING when a backend stops answering and one when it answers again,
with how many calls failed in between: an outage is two log lines, not one
per failed request (a 10 s database freeze logged over a thousand)."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)


class OutageLog:
    def __init__(self, backend: str) -> None:
        self._backend = backend
        self._lock = threading.Lock()
        self._failed = 0  # calls failed since the outage began; 0: none
        self._since = 0.0

    def failed(self, cause: BaseException | None) -> None:
        with self._lock:
            self._failed += 1
            if self._failed > 1:
                return
            self._since = time.monotonic()
        log.warning("the %s stopped answering: %s", self._backend, cause)

    def answered(self) -> None:
        """After a call that worked: the end of an outage, if one was on."""
        if not self._failed:  # the usual case: one read, no lock
            return
        with self._lock:
            failed, self._failed = self._failed, 0
            lasted = time.monotonic() - self._since
        if failed:
            log.warning(
                "the %s answers again, after %.1f s and %d failed call(s)",
                self._backend, lasted, failed,
            )  # fmt: skip

"""The server's life: readiness turns 503 once a drain or graceful stop begins.

gunicorn's master begins a drain on SIGTERM (when DRAIN_SECONDS > 0) and tells
its workers through one byte of memory it shares with every worker it forks;
each worker also marks itself the moment it is asked to stop."""

from __future__ import annotations

import mmap
import signal
import threading
from types import FrameType

# Anonymous shared memory, mapped when gunicorn's config imports this module in
# the master: every worker forked later sees the master's writes to it.
_DRAINING_EVERYWHERE = mmap.mmap(-1, 1)


def begin_drain_everywhere() -> None:
    """From the master: every worker's readiness turns 503."""
    _DRAINING_EVERYWHERE[0] = 1


class Draining:
    """Set once a drain or graceful shutdown begins: readiness turns 503."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def begin(self) -> None:
        self._event.set()

    def active(self) -> bool:
        return self._event.is_set() or _DRAINING_EVERYWHERE[0] == 1


def drain_on_sigterm(draining: Draining) -> None:
    """Readiness turns 503 the moment gunicorn asks this worker to stop.

    gunicorn installs its worker signal handlers before it loads the app, so
    ours runs first and then hands over to gunicorn's graceful exit."""
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        draining.begin()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)

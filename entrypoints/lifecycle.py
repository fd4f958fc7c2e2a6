"""The worker process's life: readiness turns 503 once a graceful stop begins."""

from __future__ import annotations

import signal
import threading
from types import FrameType


class Draining:
    """Set once a graceful shutdown begins, so readiness turns 503 at once."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def begin(self) -> None:
        self._event.set()

    def __bool__(self) -> bool:
        return self._event.is_set()


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

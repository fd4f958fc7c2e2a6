"""Log lines written off the threads that log them.

A thread that logs formats its line and queues it; one writer thread of the
process writes the queue to the stream. A stalled reader of the stream (a
full pipe, a slow collector, a blocked container log driver) then stalls
only the writer: when the queue is full, further lines are dropped and
counted (`log_records_dropped_total`) instead of blocking a request. Every
line has API tokens masked, whoever wrote it (a client may misplace its
token in any header, and gunicorn's access line quotes some of them).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
import weakref
from collections.abc import Callable
from typing import TextIO

from domain.api_keys import mask_tokens

CAPACITY = 10_000  # lines waiting to be written, at most
_on_dropped: list[Callable[[], None]] = []  # the metric, once the app has one


def count_drops_with(callback: Callable[[], None]) -> None:
    """From the app: call this for each line dropped from now on."""
    _on_dropped[:] = [callback]


class BackgroundHandler(logging.Handler):
    def __init__(self, stream: str = "stderr", capacity: int = CAPACITY) -> None:
        """stream: "stderr", "stdout", or a file path, appended to."""
        super().__init__()
        self._target = stream
        self._capacity = capacity
        self.dropped = 0
        self._closed = False
        self._start()
        alive = weakref.ref(self)
        # Threads do not survive fork: each gunicorn worker starts its own.
        os.register_at_fork(after_in_child=lambda: _restart(alive))

    def _start(self) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue(self._capacity)
        self._thread = threading.Thread(
            target=self._write, name="log-writer", daemon=True
        )
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = mask_tokens(self.format(record))
        except Exception:
            self.handleError(record)
            return
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            self.dropped += 1
            for callback in _on_dropped:
                callback()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=1.0)  # the writer's last line
        self._thread.join(timeout=1.0)
        super().close()

    def _write(self) -> None:
        own = None  # a file this handler opened, closed when it stops
        if self._target not in ("stderr", "stdout"):
            own = open(self._target, "a", encoding="utf-8")  # noqa: SIM115
        # A standard stream as it is when the writer starts (as StreamHandler
        # takes it when made); never closed here.
        stream: TextIO = own or getattr(sys, self._target)
        while (line := self._queue.get()) is not None:
            try:
                stream.write(line + "\n")
                stream.flush()
            except (OSError, ValueError):
                pass  # the stream is gone; nothing to tell it to
        if own is not None:
            own.close()


def _restart(alive: weakref.ref[BackgroundHandler]) -> None:
    handler = alive()
    if handler is not None and not handler._closed:
        handler._start()

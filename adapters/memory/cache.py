"""Per-process response cache: correct for one process (the embedded default
runs one gunicorn worker), and the reference for the Redis cache."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence

from domain.ports import Stamp


class MemoryCache:
    def __init__(
        self, ttl_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}
        self._entries: dict[str, tuple[float, Stamp, bytes]] = {}
        self._counter = itertools.count(1)

    def read(self, key: str, dependencies: Sequence[str]) -> tuple[bytes | None, Stamp]:
        with self._lock:
            stamp = tuple(self._token(d) for d in dependencies)
            entry = self._entries.get(key)
        if entry is None or entry[1] != stamp or entry[0] <= self._clock():
            return None, stamp
        return entry[2], stamp

    def fill(self, key: str, value: bytes, stamp: Stamp) -> None:
        with self._lock:
            self._entries[key] = (self._clock() + self._ttl, stamp, value)
            if len(self._entries) > 100_000:  # bound memory: drop the oldest
                del self._entries[next(iter(self._entries))]

    def invalidate(self, dependencies: Sequence[str]) -> None:
        with self._lock:
            for dependency in dependencies:
                self._tokens[dependency] = str(next(self._counter))

    def _token(self, dependency: str) -> str:
        # Never invalidated yet: "0", which no invalidation hands out, so
        # reads of records nobody wrote leave nothing behind.
        return self._tokens.get(dependency, "0")

"""Counters the service keeps about itself: cache hits and misses, rejections."""

from __future__ import annotations

import threading
from collections import Counter


class Stats:
    """Thread-safe counters by name and label, e.g. ("cache", "hit")."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def count(self, name: str, label: str) -> None:
        with self._lock:
            self._counts[(name, label)] += 1

    def get(self, name: str, label: str) -> int:
        with self._lock:
            return self._counts[(name, label)]

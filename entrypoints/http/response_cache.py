"""Cache-aside for GET responses, with invalidation after every write.

Order on a write: commit (inside the service), invalidate, respond. On a read
miss the stamp is taken *before* the database read, and the entry is filled
with that stamp; a write that commits in between changes a token in the stamp,
so the stale fill is never served (see domain.ports.Cache). When the cache
backend is down, reads go to the database and writes skip invalidation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress

import msgspec

from domain.ports import Cache, CacheLookup, CacheUnavailable
from entrypoints.http.crash_hook import crash_if_armed
from entrypoints.http.metrics import Metrics


class CachedResponse(msgspec.Struct, array_like=True):
    body: bytes
    etag: str | None = None
    link: str | None = None


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(CachedResponse).decode


def employee_key(employee_id: int) -> str:
    return f"employee:{employee_id}"


def manager_key(manager_id: int) -> str:
    return f"manager:{manager_id}"


def query_key(prefix: str, *parts: object) -> str:
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    return f"{prefix}:{digest}"


class ResponseCache:
    def __init__(self, cache: Cache | None, metrics: Metrics) -> None:
        self._cache = cache
        self._stats = metrics

    def get(
        self,
        key: str,
        dependencies: Sequence[str],
        build: Callable[[], CachedResponse],
        found: CacheLookup | None = None,
    ) -> CachedResponse:
        """The cached response, or build() stored for the next reader. found:
        the cache's answer for key, if it was read already (by the limiter)."""
        if self._cache is None:
            return build()
        if found is not None and found.key == key:
            raw, stamp = found.value, found.stamp
        else:
            try:
                raw, stamp = self._cache.read(key, dependencies)
            except CacheUnavailable:
                self._stats.count("cache", "miss")
                return build()
        if raw is not None:
            try:
                cached = _decode(raw)
            except msgspec.MsgspecError:
                cached = None  # written by another build: treat as a miss
            if cached is not None:
                self._stats.count("cache", "hit")
                return cached
        self._stats.count("cache", "miss")
        response = build()
        with suppress(CacheUnavailable):  # then the next reader misses too
            self._cache.fill(key, _encode(response), stamp)
        return response

    @contextmanager
    def invalidating(self, dependencies: Sequence[str]) -> Iterator[None]:
        """Invalidate after the block, whatever its outcome, before responding."""
        try:
            yield
            crash_if_armed()  # committed, not yet invalidated (a test hook)
        finally:
            if self._cache is not None:
                # When it fails, the backend bumps its epoch once it recovers.
                with suppress(CacheUnavailable):
                    self._cache.invalidate(dependencies)

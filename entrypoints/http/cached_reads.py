"""A GET answered from the response cache, with its entry read ahead: taken in
the rate limiter's own round trip, so a cached read costs one.

Each cacheable route declares once what entry its reads use (`declare`). The
rate-limit middleware counts a request with `hit`, which reads that entry in
the same step when the backend can do both at once; the resource then asks
`get` for the response, which takes what was read ahead or reads the cache
itself. The entry, and what was read of it, stay with the request, in one
attribute of its context that only this module touches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import falcon

from domain.api_keys import Quota
from domain.ports import CacheLookup, LimitedRead, RateDecision, RateLimiter
from entrypoints.http.auth import READ_METHODS
from entrypoints.http.response_cache import CachedResponse, ResponseCache


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """The cache key a read uses, and the dependencies that invalidate it."""

    key: str
    dependencies: list[str]


EntryOf = Callable[[falcon.Request, Mapping[str, int]], CacheEntry]


@dataclass(slots=True)
class _Read:
    entry: CacheEntry
    found: CacheLookup | None = None


class CachedReads:
    def __init__(
        self,
        cache: ResponseCache,
        limiter: RateLimiter,
        limited_read: LimitedRead | None,
    ) -> None:
        """limited_read: the limiter and the cache in one step; None when the
        response cache is off (there is nothing to read ahead)."""
        self._cache = cache
        self._limiter = limiter
        self._limited_read = limited_read
        self._entries: dict[str, EntryOf] = {}

    def declare(self, template: str, entry_of: EntryOf) -> None:
        """GETs of the route `template` (as added to the app) read entry_of's
        entry."""
        self._entries[template] = entry_of

    def hit(
        self,
        req: falcon.Request,
        params: Mapping[str, int],
        bucket: str,
        quota: Quota,
        cost: int = 1,
    ) -> RateDecision:
        """RateLimiter.hit(bucket, quota, cost) for this request; a cacheable
        read's entry is read in the same step. RateLimiterUnavailable as hit."""
        read = self._read(req, params) if self._limited_read is not None else None
        if read is None or self._limited_read is None:
            return self._limiter.hit(bucket, quota, cost)
        entry = read.entry
        decision, read.found = self._limited_read.hit_and_read(
            bucket, quota, entry.key, entry.dependencies
        )
        return decision

    def get(
        self,
        req: falcon.Request,
        params: Mapping[str, int],
        build: Callable[[], CachedResponse],
    ) -> CachedResponse:
        """The response for a declared route: cached, or build() stored for
        the next reader."""
        read = self._read(req, params)
        if read is None:
            raise LookupError(f"no cache entry declared for {req.uri_template}")
        entry = read.entry
        return self._cache.get(entry.key, entry.dependencies, build, read.found)

    def _read(self, req: falcon.Request, params: Mapping[str, int]) -> _Read | None:
        read: _Read | None = getattr(req.context, "_cached_read", None)
        if read is not None:
            return read
        entry_of = self._entries.get(req.uri_template or "")
        if entry_of is None or req.method not in READ_METHODS:
            return None
        read = req.context._cached_read = _Read(entry_of(req, params))
        return read

"""The LimitedRead port: a rate-limit decision and a cache read in one step.

A cached read needs both, one after the other; on Redis that is two round
trips where one does (the limiter's script and the cache's MGET pipelined).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from domain.api_keys import Quota
from domain.ports.cache import Stamp
from domain.ports.rate_limiter import RateDecision


@dataclass(frozen=True, slots=True)
class CacheLookup:
    """What Cache.read answered for key: the entry (or None) and the stamp."""

    key: str
    value: bytes | None
    stamp: Stamp


class LimitedRead(Protocol):
    def hit_and_read(
        self, limit_key: str, quota: Quota, cache_key: str, dependencies: Sequence[str]
    ) -> tuple[RateDecision, CacheLookup | None]:
        """RateLimiter.hit(limit_key, quota), and Cache.read(cache_key,
        dependencies) taken in the same step: None when the cache could not
        be read (the caller goes without it). RateLimiterUnavailable when no
        decision could be made."""

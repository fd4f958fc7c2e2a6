"""The RateLimiter port: per client and group, quota.limit requests at once,
then one more every window / limit (GCRA: a generic cell rate algorithm)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from domain.api_keys import Quota

# A recent instant: times counted from it keep a double's precision fine.
EPOCH_SECONDS = 1_767_225_600  # 2026-01-01T00:00:00Z


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the quota is whole again
    retry_after_seconds: int  # until a request will be accepted (0 if allowed)

    @classmethod
    def from_gcra(
        cls, allowed: bool, quota: Quota, *, tat: float, now: float, cost: int = 1
    ) -> RateDecision:
        """The decision's numbers from a GCRA state (every limiter's): `tat`,
        the theoretical arrival time after this request, runs ahead of `now`
        by one interval (window / limit) per request still counted; a
        refused hit of `cost` requests may retry once that many fit."""
        window = quota.window_seconds
        interval = window / quota.limit
        ahead = max(0.0, tat - now)
        room = math.floor(round((window - ahead) / interval, 6))
        remaining = min(quota.limit, max(0, room))
        retry = 0 if allowed else max(1, _ceil(ahead + cost * interval - window))
        return cls(allowed, quota.limit, remaining, _ceil(ahead), retry)


def _ceil(seconds: float) -> int:
    # Clock readings are floats: 60.00000000001 is float noise, not a 61st second.
    return math.ceil(round(seconds, 6))


class RateLimiterUnavailable(Exception):
    """The limiter backend did not answer."""


class RateLimiter(Protocol):
    def hit(self, key: str, quota: Quota, cost: int = 1) -> RateDecision:
        """Count `cost` requests (1 to quota.limit) for key against quota,
        all or none, atomically, and decide."""

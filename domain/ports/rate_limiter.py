"""The RateLimiter port: a sliding window per client and group."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from domain.keys import Quota


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the quota is whole again
    retry_after_seconds: int  # until a request will be accepted (0 if allowed)

    @classmethod
    def from_window(
        cls,
        allowed: bool,
        quota: Quota,
        *,
        count: int,
        oldest: float,
        newest: float,
        now: float,
    ) -> RateDecision:
        """The decision's numbers from a sliding window's state (every limiter's)."""
        window = quota.window_seconds
        reset = max(0, _ceil(newest + window - now)) if count else 0
        retry = 0 if allowed else max(1, _ceil(oldest + window - now))
        return cls(allowed, quota.limit, max(0, quota.limit - count), reset, retry)


def _ceil(seconds: float) -> int:
    # Clock readings are floats: 60.00000000001 is float noise, not a 61st second.
    return math.ceil(round(seconds, 6))


class RateLimiterUnavailable(Exception):
    """The limiter backend did not answer."""


class RateLimiter(Protocol):
    def hit(self, key: str, quota: Quota) -> RateDecision:
        """Count one request for key against quota (atomically) and decide."""

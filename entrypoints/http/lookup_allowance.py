"""How many API-key lookups one address may cause.

A token the process has not verified lately is looked up in the database; a
flood of random well-formed tokens would be a flood of queries (the refusal
cache helps only a token sent again). Each address gets an allowance of
lookups (AUTH_LOOKUPS, a quota of the rate limiter's kind, shared by every
instance through Redis); past it, a request whose token would need a lookup
gets 429 without one. Keys already verified, from any address, cost no
lookup and are unaffected; nor does the look-up again of a key this process
verified before, when its trust (AUTH_CACHE_SECONDS) runs out.
"""

from __future__ import annotations

from domain.api_keys import Quota
from domain.ports import RateLimiter, RateLimiterUnavailable
from entrypoints.http.metrics import Metrics
from entrypoints.http.problems import Problem, unavailable


class LookupAllowance:
    def __init__(
        self, limiter: RateLimiter, quota: Quota, metrics: Metrics, fail_closed: bool
    ) -> None:
        self._limiter = limiter
        self._quota = quota
        self._metrics = metrics
        self._fail_closed = fail_closed

    def spend(self, bucket: str) -> None:
        """One lookup for this address's bucket; Problem(429) past its
        allowance. With the limiter down: allowed (or 503, as the rate limiter
        fails, with RATE_LIMIT_FAIL_CLOSED)."""
        try:
            decision = self._limiter.hit(f"lookups:{bucket}", self._quota)
        except RateLimiterUnavailable:
            if self._fail_closed:
                raise unavailable("Rate limiting is unavailable.") from None
            return
        if not decision.allowed:
            self._metrics.lookup_refused()
            raise Problem(
                429,
                "Too many unknown API keys from this address; retry later.",
                headers={"Retry-After": str(decision.retry_after_seconds)},
            )

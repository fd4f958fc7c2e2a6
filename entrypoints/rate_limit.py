"""Per-client, per-group rate limiting with the IETF RateLimit headers."""

from __future__ import annotations

import logging
from collections.abc import Callable

import falcon

from domain.ports import Quota, RateDecision, RateLimiter, RateLimiterUnavailable
from entrypoints.problems import Problem, unavailable
from entrypoints.stats import Stats
from settings import RateLimitSettings

log = logging.getLogger(__name__)

# Route prefix -> group name. Teams live under /v1/managers.
GROUPS = {"/v1/employees": "employees", "/v1/managers": "managers"}


def group_of(path: str) -> str | None:
    for prefix, group in GROUPS.items():
        if path == prefix or path.startswith(prefix + "/"):
            return group
    return None


class RateLimit:
    """Counts every request under a group's path, errors included."""

    def __init__(
        self,
        limiter: RateLimiter,
        settings: RateLimitSettings,
        client_address: Callable[[falcon.Request], str],
        stats: Stats,
    ) -> None:
        self._limiter = limiter
        self._settings = settings
        self._client_address = client_address
        self._stats = stats

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        group = group_of(req.path)
        if group is None:
            return
        quota = self._settings.quotas[group]
        client = f"ip:{self._client_address(req)}"
        try:
            decision = self._limiter.hit(f"{group}:{client}", quota)
        except RateLimiterUnavailable:
            if self._settings.fail_closed:
                raise unavailable("Rate limiting is unavailable.") from None
            return  # fail open: serve without limiting (and without the headers)
        _set_headers(resp, group, quota, decision)
        if not decision.allowed:
            self._stats.count("rate_limit_rejections", group)
            raise Problem(
                429,
                f"Rate limit of {quota.limit} requests per {quota.window_seconds} s "
                f"for {group} exceeded.",
                headers={"Retry-After": str(decision.retry_after_seconds)},
            )


def _set_headers(
    resp: falcon.Response, group: str, quota: Quota, decision: RateDecision
) -> None:
    resp.set_header("RateLimit-Limit", str(decision.limit))
    resp.set_header("RateLimit-Remaining", str(decision.remaining))
    resp.set_header("RateLimit-Reset", str(decision.reset_seconds))
    resp.set_header(
        "RateLimit-Policy", f'"{group}";q={quota.limit};w={quota.window_seconds}'
    )
    resp.set_header(
        "RateLimit", f'"{group}";r={decision.remaining};t={decision.reset_seconds}'
    )

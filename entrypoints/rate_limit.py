"""Per-client, per-group rate limiting with the IETF RateLimit headers."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import falcon

from domain.ports import Quota, RateDecision, RateLimiter, RateLimiterUnavailable
from entrypoints.problems import Problem
from entrypoints.stats import Stats

log = logging.getLogger(__name__)

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_QUOTA = re.compile(r"\s*(\d+)\s*/\s*(?:(\d+)\s*s|(second|minute|hour|day))\s*")

# Route prefix -> group name. Teams live under /v1/managers.
GROUPS = {"/v1/employees": "employees", "/v1/managers": "managers"}


def parse_quota(text: str) -> Quota:
    """'10/minute', '100/hour' or '5/30s'."""
    match = _QUOTA.fullmatch(text)
    if not match or int(match[1]) < 1:
        raise ValueError(f"not a rate limit: {text!r} (try '10/minute')")
    window = int(match[2]) if match[2] else _UNITS[match[3]]
    if window < 1:
        raise ValueError(f"not a rate limit: {text!r} (window must be >= 1 s)")
    return Quota(int(match[1]), window)


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    quotas: Mapping[str, Quota]  # by group
    fail_closed: bool = False


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
        client, quota = self._client_and_quota(req, group)
        try:
            decision = self._limiter.hit(f"{group}:{client}", quota)
        except RateLimiterUnavailable:
            if self._settings.fail_closed:
                raise Problem(
                    503, "Rate limiting is unavailable.", headers={"Retry-After": "5"}
                ) from None
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

    def _client_and_quota(self, req: falcon.Request, group: str) -> tuple[str, Quota]:
        # An authenticated key (set by the auth middleware) may carry its own quota.
        key_id = getattr(req.context, "api_key_id", None)
        overrides: Mapping[str, Quota] = getattr(req.context, "quota_overrides", {})
        quota = overrides.get(group, self._settings.quotas[group])
        if key_id is not None:
            return f"key:{key_id}", quota
        return f"ip:{self._client_address(req)}", quota


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

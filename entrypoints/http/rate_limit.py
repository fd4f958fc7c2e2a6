"""Per-client, per-group rate limiting with the IETF RateLimit headers."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import falcon

from domain.api_keys import Quota
from domain.errors import StorageUnavailable
from domain.ports import RateDecision, RateLimiterUnavailable
from entrypoints.http.auth import Authenticator, Identity
from entrypoints.http.batch import batch_size, is_batch, too_many_for_quota
from entrypoints.http.cached_reads import CachedReads
from entrypoints.http.metrics import Metrics
from entrypoints.http.problems import Problem, unavailable
from settings import RateLimitSettings

log = logging.getLogger(__name__)

# Route prefix -> group name. Teams live under /v1/managers.
GROUPS = {
    "/v1/employees": "employees",
    "/v1/managers": "managers",
    "/v1/changes": "changes",
}
_SLASHES = re.compile("/{2,}")


def group_of(path: str) -> str | None:
    for prefix, group in GROUPS.items():
        if path == prefix or path.startswith(prefix + "/"):
            return group
    return None


class RateLimit:
    """Counts every request to a group's routes, errors included.

    The group comes from the route that matched (its template), never from
    the raw path, so no spelling of a path (//v1/..., %2F) reaches a resource
    unlimited. A request that matched no route is counted too, by its path
    with runs of slashes folded, so probing for routes is limited as well."""

    def __init__(
        self,
        reads: CachedReads,
        settings: RateLimitSettings,
        authenticator: Authenticator,
        metrics: Metrics,
        batch_max_body: int,
    ) -> None:
        """reads: the limiter, and a cacheable read's entry in the same step.
        batch_max_body: what a batch body may hold (its items are counted)."""
        self._batch_max_body = batch_max_body
        self._reads = reads
        self._settings = settings
        self._authenticator = authenticator
        self._stats = metrics

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: Any
    ) -> None:
        group = group_of(req.uri_template or "")
        if group is not None:
            self._count(req, resp, group, params)

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, ok: bool
    ) -> None:
        if resource is not None:
            return  # a route matched: process_resource counted it
        group = group_of(_SLASHES.sub("/", req.path))
        if group is not None:
            self._count(req, resp, group, {})

    def _count(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        group: str,
        params: Mapping[str, int],
    ) -> None:
        try:
            identity = self._authenticator.identify(req)
        except StorageUnavailable:
            # The key cannot be checked: count the address, answer the 503.
            by_address = self._authenticator.by_address(req)
            self._count_as(req, resp, group, by_address, {})
            raise
        self._count_as(req, resp, group, identity, params)

    def _count_as(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        group: str,
        identity: Identity,
        params: Mapping[str, int],
    ) -> None:
        quota = self._settings.quota_of(group)
        if identity.key is not None:
            quota = identity.key.quotas.get(group, quota)
        bucket = f"{group}:{identity.client}"  # what the limiter counts
        # A batch of N counts as N requests, all or none; one larger than the
        # whole quota counts as one, and is refused once it is admitted.
        size = batch_size(req, self._batch_max_body) if is_batch(req) else 1
        cost = size if size <= quota.limit else 1
        try:
            decision = self._reads.hit(req, params, bucket, quota, cost)
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
        if size > quota.limit:
            raise too_many_for_quota(size, quota.limit)


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

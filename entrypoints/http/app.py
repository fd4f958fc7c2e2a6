"""The Falcon application: its middleware, media handlers and error handling,
over the routes of entrypoints.http.routes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import falcon

from domain.errors import DomainError
from domain.ports import Cache, IdempotencyStore, LimitedRead, RateLimiter
from domain.services import ApiKeyService
from entrypoints.http.auth import Authenticator, Authorize
from entrypoints.http.batch_gate import BatchGate
from entrypoints.http.cached_reads import CachedReads
from entrypoints.http.client_address import ClientAddress
from entrypoints.http.common_headers import RequestId, SecurityHeaders
from entrypoints.http.converters import IdConverter
from entrypoints.http.crash_hook import CrashHook
from entrypoints.http.idempotency import Idempotency
from entrypoints.http.json_media import MsgspecJSONHandler
from entrypoints.http.lookup_allowance import LookupAllowance
from entrypoints.http.metrics import Metrics, RequestMetrics
from entrypoints.http.problems import (
    handle_domain_error,
    handle_unexpected,
    serialize_problem,
)
from entrypoints.http.rate_limit import RateLimit
from entrypoints.http.request_log import RequestLog
from entrypoints.http.response_cache import ResponseCache
from entrypoints.http.routes import (
    EXEMPT_ROUTES,
    Readiness,
    RouteParts,
    Services,
    add_routes,
)
from settings import HttpSettings

__all__ = ["EdgeDependencies", "Readiness", "Services", "WsgiApp", "create_app"]

log = logging.getLogger(__name__)
WsgiApp = falcon.App[falcon.Request, falcon.Response]


@dataclass(frozen=True, slots=True)
class EdgeDependencies:
    """What the HTTP edge uses besides the services: the limiter, idempotency
    records, API keys (None: auth is off), the response cache (None: off),
    its metrics, and the limiter and the cache in one step."""

    limiter: RateLimiter
    idempotency: IdempotencyStore
    api_keys: ApiKeyService | None
    cache: Cache | None = None
    metrics: Metrics = field(default_factory=Metrics)
    # Only used with the cache on; without it, the limiter and the cache
    # are asked one after the other.
    limited_read: LimitedRead | None = None


def create_app(
    services: Services,
    readiness: Readiness,
    edge: EdgeDependencies,
    settings: HttpSettings,
) -> WsgiApp:
    """A WSGI app over the given services; bootstrap decides what backs them."""
    if edge.api_keys is None:
        log.warning(
            "AUTH_DISABLED=1: every request is served without an API key and "
            "identified by its address only; never run production like this"
        )
    if settings.test_hooks:
        log.warning("TEST_HOOKS=1: X-Test-Crash kills workers; never in production")
    edge.metrics.groups_known(settings.rate_limits.groups)
    client_address = ClientAddress(settings.trusted_proxies)
    lookups = LookupAllowance(
        edge.limiter,
        settings.auth_lookups,
        edge.metrics,
        settings.rate_limits.fail_closed,
    )
    authenticator = Authenticator(edge.api_keys, client_address, lookups)
    idempotency = Idempotency(
        edge.idempotency, authenticator.identify, settings.idempotency_claim_seconds
    )
    cache = ResponseCache(edge.cache, edge.metrics)
    reads = CachedReads(cache, edge.limiter, _limited_read(edge))
    middleware: list[Any] = [
        RequestLog(client_address),  # after the metrics, which time the request
        RequestMetrics(edge.metrics),
        RequestId(),
        SecurityHeaders(EXEMPT_ROUTES),
        BatchGate(settings.batches_at_once),
        # The contract's order: identify, count (refused requests included),
        # then refuse what needs a key; idempotency records last, on the way out.
        RateLimit(
            reads,
            settings.rate_limits,
            authenticator,
            edge.metrics,
            settings.batch_max_body_bytes,
        ),
        Authorize(authenticator, EXEMPT_ROUTES),
        idempotency,
        *([CrashHook()] if settings.test_hooks else []),
    ]
    app = falcon.App(middleware=middleware)
    _configure_media(app)
    app.router_options.converters["id"] = IdConverter
    parts = RouteParts(reads, cache, idempotency, settings.max_body_bytes,
                       settings.batch_max_body_bytes, edge.metrics)  # fmt: skip
    add_routes(app, services, readiness, parts)
    return app


def _limited_read(edge: EdgeDependencies) -> LimitedRead | None:
    if edge.cache is None:
        return None  # nothing to read ahead
    return edge.limited_read


def _configure_media(app: WsgiApp) -> None:
    handler = MsgspecJSONHandler()
    app.req_options.media_handlers = falcon.media.Handlers({falcon.MEDIA_JSON: handler})
    app.resp_options.media_handlers = falcon.media.Handlers(
        {falcon.MEDIA_JSON: handler}
    )
    app.set_error_serializer(serialize_problem)
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(DomainError, handle_domain_error)

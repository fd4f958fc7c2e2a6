"""The Falcon application: routes, media handlers, error handling."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import falcon

from domain.errors import DomainError
from domain.model import EmployeeFilter, ManagerFilter
from domain.ports import Cache, HealthCheck, IdempotencyStore, LimitedRead, RateLimiter
from domain.services import (
    ApiKeyService,
    EmployeeService,
    ManagerService,
    TeamService,
)
from entrypoints import schemas
from entrypoints.auth import Authenticator, Authorize
from entrypoints.client_ip import ClientAddress
from entrypoints.converters import IdConverter
from entrypoints.idempotency import Idempotency
from entrypoints.lifecycle import Draining
from entrypoints.logs import RequestLog
from entrypoints.media import MsgspecJSONHandler
from entrypoints.metrics import Metrics, MetricsResource, RequestMetrics
from entrypoints.middleware import RequestId, SecurityHeaders
from entrypoints.openapi import openapi_document
from entrypoints.pages import parse_id_filter, parse_text_filter
from entrypoints.problems import (
    handle_domain_error,
    handle_unexpected,
    serialize_problem,
)
from entrypoints.rate_limit import RateLimit
from entrypoints.resources.docs import (
    DocsResource,
    OpenApiResource,
    swagger_ui_assets,
)
from entrypoints.resources.health import LiveResource, ReadyResource
from entrypoints.resources.records import RecordResource, RecordSchema
from entrypoints.resources.teams import TeamResource
from entrypoints.response_cache import ResponseCache, employee_key, manager_key
from settings import HttpSettings

log = logging.getLogger(__name__)
WsgiApp = falcon.App[falcon.Request, falcon.Response]

EMPLOYEES = RecordSchema(
    path="/v1/employees",
    collection="employees",
    item_key=employee_key,
    body=schemas.EmployeeIn,
    patch=schemas.EmployeePatch,
    to_draft=schemas.employee_in_to_draft,
    to_out=schemas.employee_out,
    page=schemas.EmployeePage,
    filters={
        "manager_id": parse_id_filter,
        "department": parse_text_filter,
        "q": parse_text_filter,
    },
    make_filter=EmployeeFilter,
)

MANAGERS = RecordSchema(
    path="/v1/managers",
    collection="managers",
    item_key=manager_key,
    body=schemas.ManagerIn,
    patch=schemas.ManagerPatch,
    to_draft=schemas.manager_in_to_draft,
    to_out=schemas.manager_out,
    page=schemas.ManagerPage,
    filters={"department": parse_text_filter, "q": parse_text_filter},
    make_filter=ManagerFilter,
)


@dataclass(frozen=True, slots=True)
class Services:
    employees: EmployeeService
    managers: ManagerService
    teams: TeamService


@dataclass(frozen=True, slots=True)
class Edges:
    """What the HTTP edge uses besides the services: the limiter, the cache,
    idempotency records, API keys (None: auth is off), and its metrics."""

    limiter: RateLimiter
    idempotency: IdempotencyStore
    keys: ApiKeyService | None
    cache: Cache | None = None
    metrics: Metrics = field(default_factory=Metrics)
    # The limiter and the cache in one step; only used with the cache on.
    limited_read: LimitedRead | None = None


# Open without a key, as the contract says.
EXEMPT_ROUTES = ("/health/live", "/health/ready", "/metrics", "/openapi.json", "/docs")
VERSION = "0.1.0"


@dataclass(frozen=True, slots=True)
class Health:
    required: Mapping[str, HealthCheck]
    optional: Mapping[str, HealthCheck] = field(default_factory=dict)
    draining: Draining = field(default_factory=Draining)


def create_app(
    services: Services, health: Health, edges: Edges, settings: HttpSettings
) -> WsgiApp:
    """A WSGI app over the given services; bootstrap decides what backs them."""
    if edges.keys is None:
        log.warning(
            "AUTH_DISABLED=1: every request is served without an API key and "
            "identified by its address only; never run production like this"
        )
    client_address = ClientAddress(settings.trusted_proxies)
    authenticator = Authenticator(edges.keys, client_address)
    identify = authenticator.identify
    idempotency = Idempotency(edges.idempotency, identify)
    middleware: list[Any] = [
        RequestLog(client_address),  # after the metrics, which time the request
        RequestMetrics(edges.metrics),
        RequestId(),
        SecurityHeaders(EXEMPT_ROUTES),
        # The contract's order: identify, count (refused requests included),
        # then refuse what needs a key; idempotency records last, on the way out.
        RateLimit(
            edges.limiter,
            settings.rate_limits,
            authenticator,
            edges.metrics,
            edges.limited_read if edges.cache is not None else None,
        ),
        Authorize(authenticator, EXEMPT_ROUTES),
        idempotency,
    ]
    app = falcon.App(middleware=middleware)
    _configure_media(app)
    app.router_options.converters["id"] = IdConverter
    cache = ResponseCache(edges.cache, edges.metrics)
    edge = _Edge(cache, idempotency, settings, edges.metrics)
    _add_routes(app, services, health, edge)
    return app


@dataclass(frozen=True, slots=True)
class _Edge:
    cache: ResponseCache
    idempotency: Idempotency
    settings: HttpSettings
    metrics: Metrics


def _configure_media(app: WsgiApp) -> None:
    handler = MsgspecJSONHandler()
    app.req_options.media_handlers = falcon.media.Handlers({falcon.MEDIA_JSON: handler})
    app.resp_options.media_handlers = falcon.media.Handlers(
        {falcon.MEDIA_JSON: handler}
    )
    app.set_error_serializer(serialize_problem)
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(DomainError, handle_domain_error)


def _add_routes(app: WsgiApp, services: Services, health: Health, edge: _Edge) -> None:
    max_body, cache = edge.settings.max_body_bytes, edge.cache
    employees = RecordResource(
        services.employees, EMPLOYEES, cache, edge.idempotency, max_body
    )
    managers = RecordResource(
        services.managers, MANAGERS, cache, edge.idempotency, max_body
    )
    team = TeamResource(services.teams, cache)
    app.add_route("/v1/employees", employees)
    app.add_route("/v1/employees/{employee_id:id}", employees, suffix="item")
    app.add_route("/v1/managers", managers)
    app.add_route("/v1/managers/{manager_id:id}", managers, suffix="item")
    app.add_route("/v1/managers/{manager_id:id}/employees", team)
    app.add_route(
        "/v1/managers/{manager_id:id}/employees/{employee_id:id}", team, suffix="member"
    )
    app.add_route("/metrics", MetricsResource(edge.metrics))
    openapi = OpenApiResource()
    app.add_route("/openapi.json", openapi)
    app.add_route("/docs", DocsResource())
    app.add_static_route("/docs/static", str(swagger_ui_assets()))
    app.add_route("/health/live", LiveResource())
    app.add_route(
        "/health/ready",
        ReadyResource(health.required, health.optional, health.draining),
    )
    openapi.publish(openapi_document(app, VERSION))  # every route is in by now

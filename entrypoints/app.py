"""The Falcon application: routes, media handlers, error handling."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import falcon

from domain.errors import DomainError
from domain.model import EmployeeFilter, ManagerFilter
from domain.ports import Cache, HealthCheck, RateLimiter
from domain.services import EmployeeService, ManagerService, TeamService
from entrypoints import schemas
from entrypoints.client_ip import ClientAddress
from entrypoints.converters import IdConverter
from entrypoints.lifecycle import Draining
from entrypoints.media import MsgspecJSONHandler
from entrypoints.middleware import RequestId
from entrypoints.pages import parse_id_filter, parse_text_filter
from entrypoints.problems import (
    handle_domain_error,
    handle_unexpected,
    serialize_problem,
)
from entrypoints.rate_limit import RateLimit
from entrypoints.resources.health import LiveResource, ReadyResource
from entrypoints.resources.records import RecordResource, RecordSchema
from entrypoints.resources.teams import TeamResource
from entrypoints.response_cache import ResponseCache, employee_key, manager_key
from entrypoints.stats import Stats
from settings import HttpSettings

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
    """The cross-cutting ports the HTTP edge uses (cache, limiter) and its stats."""

    limiter: RateLimiter
    cache: Cache | None = None
    stats: Stats = field(default_factory=Stats)


@dataclass(frozen=True, slots=True)
class Health:
    required: Mapping[str, HealthCheck]
    optional: Mapping[str, HealthCheck] = field(default_factory=dict)
    draining: Draining = field(default_factory=Draining)


def create_app(
    services: Services, health: Health, edges: Edges, settings: HttpSettings
) -> WsgiApp:
    """A WSGI app over the given services; bootstrap decides what backs them."""
    rate_limit = RateLimit(
        edges.limiter,
        settings.rate_limits,
        ClientAddress(settings.trusted_proxies),
        edges.stats,
    )
    middleware: list[Any] = [RequestId(), rate_limit]
    app = falcon.App(middleware=middleware)
    _configure_media(app)
    app.router_options.converters["id"] = IdConverter
    cache = ResponseCache(edges.cache, edges.stats)
    _add_routes(app, services, health, cache, settings)
    return app


def _configure_media(app: WsgiApp) -> None:
    handler = MsgspecJSONHandler()
    app.req_options.media_handlers = falcon.media.Handlers({falcon.MEDIA_JSON: handler})
    app.resp_options.media_handlers = falcon.media.Handlers(
        {falcon.MEDIA_JSON: handler}
    )
    app.set_error_serializer(serialize_problem)
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(DomainError, handle_domain_error)


def _add_routes(
    app: WsgiApp,
    services: Services,
    health: Health,
    cache: ResponseCache,
    settings: HttpSettings,
) -> None:
    max_body = settings.max_body_bytes
    employees = RecordResource(services.employees, EMPLOYEES, cache, max_body)
    managers = RecordResource(services.managers, MANAGERS, cache, max_body)
    team = TeamResource(services.teams, cache)
    app.add_route("/v1/employees", employees)
    app.add_route("/v1/employees/{employee_id:id}", employees, suffix="item")
    app.add_route("/v1/managers", managers)
    app.add_route("/v1/managers/{manager_id:id}", managers, suffix="item")
    app.add_route("/v1/managers/{manager_id:id}/employees", team)
    app.add_route(
        "/v1/managers/{manager_id:id}/employees/{employee_id:id}", team, suffix="member"
    )
    app.add_route("/health/live", LiveResource())
    app.add_route(
        "/health/ready",
        ReadyResource(health.required, health.optional, health.draining),
    )

"""The route table: every path the app serves, its resource, and the cache
entry each cacheable read uses."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

import falcon

from domain.model import EmployeeFilter, ManagerFilter
from domain.ports import HealthCheck
from domain.services import ChangeFeed, EmployeeService, ManagerService, TeamService
from entrypoints.http import schemas
from entrypoints.http.cached_reads import CachedReads
from entrypoints.http.idempotency import Idempotency
from entrypoints.http.metrics import Metrics, MetricsResource
from entrypoints.http.openapi.document import openapi_document
from entrypoints.http.openapi.operations import DOCS_ASSET
from entrypoints.http.pagination import parse_id_filter, parse_text_filter
from entrypoints.http.resources.changes import ChangesResource
from entrypoints.http.resources.docs import (
    DocsAssetResource,
    DocsResource,
    OpenApiResource,
    swagger_ui_assets,
)
from entrypoints.http.resources.health import LiveResource, ReadyResource
from entrypoints.http.resources.records import RecordResource, RecordSchema
from entrypoints.http.resources.teams import TeamResource
from entrypoints.http.response_cache import (
    ResponseCache,
    employee_key,
    manager_key,
)

# Open without a key, as the contract says.
EXEMPT_ROUTES = ("/health/live", "/health/ready", "/metrics", "/openapi.json", "/docs",
                 DOCS_ASSET)  # fmt: skip
VERSION = "0.1.0"

EMPLOYEES = RecordSchema(
    path="/v1/employees",
    collection="employees",
    item_key=employee_key,
    body=schemas.EmployeeIn,
    patch=schemas.EmployeePatch,
    to_draft=schemas.employee_in_to_draft,
    to_out=schemas.employee_out,
    page=schemas.EmployeePage,
    batch_out=schemas.EmployeeBatchOut,
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
    batch_out=schemas.ManagerBatchOut,
    filters={"department": parse_text_filter, "q": parse_text_filter},
    make_filter=ManagerFilter,
)


@dataclass(frozen=True, slots=True)
class Services:
    employees: EmployeeService
    managers: ManagerService
    teams: TeamService
    changes: ChangeFeed


@dataclass(frozen=True, slots=True)
class Readiness:
    """What /health/ready checks: required backends (503 when one is down),
    optional ones (reported "degraded"), and whether the server is stopping."""

    required: Mapping[str, HealthCheck]
    optional: Mapping[str, HealthCheck] = field(default_factory=dict)
    draining: Callable[[], bool] = lambda: False

    @classmethod
    def of(
        cls,
        database: HealthCheck,
        redis: Mapping[str, HealthCheck],
        fail_closed: bool,
        draining: Callable[[], bool],
    ) -> Readiness:
        """The database is required; Redis too when the limiter fails closed
        (without it every limited request is a 503), else optional."""
        if fail_closed:
            return cls({"database": database, **redis}, {}, draining)
        return cls({"database": database}, redis, draining)


@dataclass(frozen=True, slots=True)
class RouteParts:
    """What the resources share: the cached reads, the response cache to
    invalidate, idempotency records, the body limit and the metrics."""

    reads: CachedReads
    cache: ResponseCache
    idempotency: Idempotency
    max_body: int
    batch_max_body: int
    metrics: Metrics


def add_routes(
    app: falcon.App[Any, Any],
    services: Services,
    readiness: Readiness,
    parts: RouteParts,
) -> None:
    _add_records(app, services, parts)
    changes = ChangesResource(services.changes)
    app.add_route("/v1/changes", changes)
    app.add_route("/v1/changes/head", changes, suffix="head")
    app.add_route("/metrics", MetricsResource(parts.metrics))
    openapi = OpenApiResource()
    app.add_route("/openapi.json", openapi)
    app.add_route("/docs", DocsResource())
    app.add_route(DOCS_ASSET, DocsAssetResource(swagger_ui_assets()))
    app.add_route("/health/live", LiveResource())
    ready = ReadyResource(readiness.required, readiness.optional, readiness.draining)
    app.add_route("/health/ready", ready)
    openapi.publish(openapi_document(app, VERSION))  # every route is in by now


def _add_records(app: falcon.App[Any, Any], services: Services, p: RouteParts) -> None:
    employees = RecordResource(services.employees, EMPLOYEES, **_shared(p))
    _add_collection(app, p.reads, employees, "/v1/employees", "{employee_id:id}")
    managers = RecordResource(services.managers, MANAGERS, **_shared(p))
    _add_collection(app, p.reads, managers, "/v1/managers", "{manager_id:id}")
    team = TeamResource(services.teams, p.reads, p.cache)
    app.add_route("/v1/managers/{manager_id:id}/employees", team)
    app.add_route(
        "/v1/managers/{manager_id:id}/employees/{employee_id:id}", team, suffix="member"
    )
    p.reads.declare("/v1/managers/{manager_id:id}/employees", team.list_entry)


def _add_collection(
    app: falcon.App[Any, Any],
    reads: CachedReads,
    records: RecordResource[Any, Any, Any, Any],
    path: str,
    item: str,
) -> None:
    app.add_route(path, records)
    app.add_route(f"{path}/batch", records, suffix="batch")
    app.add_route(f"{path}/{item}", records, suffix="item")
    reads.declare(path, records.list_entry)
    reads.declare(f"{path}/{item}", records.item_entry)


class _Shared(TypedDict):
    reads: CachedReads
    cache: ResponseCache
    idempotency: Idempotency
    max_body: int
    batch_max_body: int


def _shared(p: RouteParts) -> _Shared:
    """What every record resource takes besides its service and schema."""
    return _Shared(reads=p.reads, cache=p.cache, idempotency=p.idempotency,
                   max_body=p.max_body, batch_max_body=p.batch_max_body)  # fmt: skip

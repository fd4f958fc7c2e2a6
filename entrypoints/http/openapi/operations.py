"""What each route and method does, for the OpenAPI document.

Keyed by the route template as the contract writes it and the method: the
document is built from the app's own route table, and a served route with no
entry here stops the app at start, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from entrypoints.http import feed_wire, schemas
from entrypoints.http.openapi.prose import BATCH, FEED
from entrypoints.http.problems import ProblemBody
from entrypoints.http.resources.health import Status

EMPLOYEES = "/v1/employees"
EMPLOYEE = "/v1/employees/{employee_id}"
MANAGERS = "/v1/managers"
MANAGER = "/v1/managers/{manager_id}"
TEAM = "/v1/managers/{manager_id}/employees"
MEMBER = "/v1/managers/{manager_id}/employees/{employee_id}"
CHANGES = "/v1/changes"
CHANGES_HEAD = "/v1/changes/head"
DOCS_ASSET = "/docs/static/{version}/{name}"


@dataclass(frozen=True)
class Operation:
    summary: str
    ok: int
    body: type | None = None  # the success response's schema
    request: type | None = None
    merge_patch: bool = False
    keyed: bool = True  # needs an API key (read for GET/HEAD, else write)
    query: tuple[str, ...] = ()
    headers_in: tuple[str, ...] = ()  # request headers: If-Match, ...
    headers_out: tuple[str, ...] = ()  # success response headers
    errors: tuple[int, ...] = ()
    media: str = "application/json"
    description: str = ""
    extra: dict[str, object] = field(default_factory=dict)


PAGE_QUERY = ("limit", "cursor")
WRITE_ERRORS = (400, 413, 415, 422)


Operations = dict[tuple[str, str], Operation]


def _record(kind: str, out: type, body: type, patch: type) -> Operations:
    employee = kind == "employee"
    a_kind = f"an {kind}" if employee else f"a {kind}"
    collection, item = (EMPLOYEES, EMPLOYEE) if employee else (MANAGERS, MANAGER)
    filters = ("manager_id", "department", "q") if employee else ("department", "q")
    page = schemas.EmployeePage if employee else schemas.ManagerPage
    delete_errors = (404, 412) if employee else (404, 409, 412)
    post_errors = (*WRITE_ERRORS, 409)
    batch_in, batch_out = (
        (schemas.EmployeeBatchIn, schemas.EmployeeBatchOut) if employee
        else (schemas.ManagerBatchIn, schemas.ManagerBatchOut)
    )  # fmt: skip
    return {
        (f"{collection}/batch", "POST"): Operation(
            f"Create many {kind}s at once", 201, batch_out, request=batch_in,
            headers_in=("Idempotency-Key",), headers_out=("Idempotent-Replayed",),
            errors=post_errors, description=BATCH,
        ),
        (collection, "GET"): Operation(
            f"List {kind}s, by id, a page at a time", 200, page,
            query=(*PAGE_QUERY, *filters), headers_out=("Link",), errors=(422,),
        ),
        (collection, "HEAD"): Operation(
            f"Headers of a page of {kind}s", 200, query=(*PAGE_QUERY, *filters),
            headers_out=("Link",), errors=(422,),
        ),
        (collection, "POST"): Operation(
            f"Create {a_kind}", 201, out, request=body,
            headers_in=("Idempotency-Key",),
            headers_out=("Location", "ETag", "Idempotent-Replayed"),
            errors=post_errors,
        ),
        (item, "GET"): Operation(
            f"Read {a_kind}", 200, out, headers_in=("If-None-Match",),
            headers_out=("ETag",), errors=(304, 404),
        ),
        (item, "HEAD"): Operation(
            f"Headers of {a_kind}", 200, headers_in=("If-None-Match",),
            headers_out=("ETag",), errors=(304, 404),
        ),
        (item, "PUT"): Operation(
            f"Replace {a_kind}", 200, out, request=body, headers_in=("If-Match",),
            headers_out=("ETag",), errors=(*WRITE_ERRORS, 404, 409, 412),
            description="Full replacement: omitted optional fields become null.",
        ),
        (item, "PATCH"): Operation(
            f"Change some fields of {a_kind}", 200, out, request=patch,
            merge_patch=True, headers_in=("If-Match",), headers_out=("ETag",),
            errors=(*WRITE_ERRORS, 404, 409, 412),
            description="JSON merge patch (RFC 7396): only the fields sent "
            "change; null clears an optional field.",
        ),
        (item, "DELETE"): Operation(
            f"Delete {a_kind}", 204, headers_in=("If-Match",), errors=delete_errors,
        ),
    }  # fmt: skip


OPERATIONS: Operations = {
    **_record("employee", schemas.EmployeeOut, schemas.EmployeeIn,
              schemas.EmployeePatch),
    **_record("manager", schemas.ManagerOut, schemas.ManagerIn, schemas.ManagerPatch),
    (TEAM, "GET"): Operation(
        "List a manager's team", 200, schemas.EmployeePage, query=PAGE_QUERY,
        headers_out=("Link",), errors=(404, 422),
    ),
    (TEAM, "HEAD"): Operation(
        "Headers of a page of a manager's team", 200, query=PAGE_QUERY,
        headers_out=("Link",), errors=(404, 422),
    ),
    (MEMBER, "PUT"): Operation(
        "Join: the employee reports to the manager", 200, schemas.EmployeeOut,
        headers_in=("If-Match",), headers_out=("ETag",), errors=(404, 409, 412),
        description="Idempotent: joining the same manager again changes nothing. "
        "409 while the employee reports to another manager. If-Match is "
        "checked against the employee's ETag.",
    ),
    (MEMBER, "DELETE"): Operation(
        "Leave: the employee reports to no manager", 204, headers_in=("If-Match",),
        errors=(404, 412),
        description="404 when either is absent or the employee is not in this "
        "team (before If-Match is looked at).",
    ),
    (CHANGES, "GET"): Operation(
        "Follow the change feed: every change of a record, once, in order", 200,
        feed_wire.ChangeFeedPage, query=("after", "changes_limit", "resource"),
        errors=(410, 422), description=FEED,
    ),
    (CHANGES, "HEAD"): Operation(
        "Headers of a page of the change feed", 200,
        query=("after", "changes_limit", "resource"), errors=(410, 422),
    ),
    (CHANGES_HEAD, "GET"): Operation(
        "The change feed's current end, for list-then-follow", 200,
        feed_wire.FeedHead, errors=(422,),
        description="Take the head, list the resources, then follow the feed "
        "from this cursor, applying each change whose version is newer than "
        "the copy's. Takes no query parameters (any is 422).",
    ),
    (CHANGES_HEAD, "HEAD"): Operation(
        "Headers of the change feed's end", 200, errors=(422,)
    ),
    ("/metrics", "GET"): Operation(
        "Prometheus metrics", 200, keyed=False, media="text/plain",
        description="Keep it off the public listener (see the README).",
    ),
    ("/health/live", "GET"): Operation(
        "Liveness: the process can serve", 200, Status, keyed=False
    ),
    ("/health/live", "HEAD"): Operation("Liveness, headers only", 200, keyed=False),
    ("/health/ready", "GET"): Operation(
        "Readiness: the database answers", 200, Status, keyed=False, errors=(503,),
        description="Redis is reported as ok or degraded and does not make the "
        "instance unready, unless the limiter fails closed; a degraded backend "
        "has its reason under `reasons` when one is known (an added field: "
        "the contract names only the states). 503 as soon as a graceful "
        "shutdown begins.",
    ),
    ("/health/ready", "HEAD"): Operation(
        "Readiness, headers only", 200, keyed=False, errors=(503,)
    ),
    ("/metrics", "HEAD"): Operation("Metrics, headers only", 200, keyed=False),
    ("/openapi.json", "GET"): Operation(
        "This document", 200, keyed=False, media="application/json"
    ),
    ("/openapi.json", "HEAD"): Operation("Headers of this document", 200, keyed=False),
    ("/docs", "GET"): Operation(
        "This document, rendered for people", 200, keyed=False, media="text/html"
    ),
    ("/docs", "HEAD"): Operation("Headers of the rendered one", 200, keyed=False),
    (DOCS_ASSET, "GET"): Operation(
        "A file of the rendered document's page (Swagger UI)", 200, keyed=False,
        media="application/octet-stream", errors=(404,),
        description="Immutable: the version is in the URL, so it may be cached "
        "for good (`Cache-Control: public, max-age=31536000, immutable`). 404 "
        "for another version or a file the page does not use.",
    ),
    (DOCS_ASSET, "HEAD"): Operation(
        "Headers of a file of the page", 200, keyed=False, errors=(404,)
    ),
}  # fmt: skip


def _record_ids(
    kinds: str, kind: str, collection: str, item: str
) -> dict[tuple[str, str], str]:
    return {
        (collection, "GET"): f"list{kinds}", (collection, "HEAD"): f"head{kinds}",
        (collection, "POST"): f"create{kind}", (item, "GET"): f"get{kind}",
        (f"{collection}/batch", "POST"): f"batchCreate{kinds}",
        (item, "HEAD"): f"head{kind}", (item, "PUT"): f"replace{kind}",
        (item, "PATCH"): f"update{kind}", (item, "DELETE"): f"delete{kind}",
    }  # fmt: skip


# Stable, readable names for generated clients (listEmployees, joinTeam...).
OPERATION_IDS: dict[tuple[str, str], str] = {
    **_record_ids("Employees", "Employee", EMPLOYEES, EMPLOYEE),
    **_record_ids("Managers", "Manager", MANAGERS, MANAGER),
    (TEAM, "GET"): "listTeam", (TEAM, "HEAD"): "headTeam",
    (MEMBER, "PUT"): "joinTeam", (MEMBER, "DELETE"): "leaveTeam",
    (CHANGES, "GET"): "listChanges", (CHANGES, "HEAD"): "headChanges",
    (CHANGES_HEAD, "GET"): "getChangesHead",
    (CHANGES_HEAD, "HEAD"): "headChangesHead",
    ("/metrics", "GET"): "getMetrics", ("/metrics", "HEAD"): "headMetrics",
    ("/health/live", "GET"): "getLiveness", ("/health/live", "HEAD"): "headLiveness",
    ("/health/ready", "GET"): "getReadiness",
    ("/health/ready", "HEAD"): "headReadiness",
    ("/openapi.json", "GET"): "getOpenApiDocument",
    ("/openapi.json", "HEAD"): "headOpenApiDocument",
    ("/docs", "GET"): "getDocs", ("/docs", "HEAD"): "headDocs",
    (DOCS_ASSET, "GET"): "getDocsAsset", (DOCS_ASSET, "HEAD"): "headDocsAsset",
}  # fmt: skip


def tag_of(template: str) -> str:
    """The group a generated client puts the operation in."""
    if template.startswith(TEAM):
        return "teams"
    if template.startswith(CHANGES):
        return "changes"
    for prefix, tag in ((EMPLOYEES, "employees"), (MANAGERS, "managers")):
        if template.startswith(prefix):
            return tag
    return "service"


SCHEMAS = (
    schemas.EmployeeIn, schemas.EmployeePatch, schemas.EmployeeOut,
    schemas.EmployeePage, schemas.ManagerIn, schemas.ManagerPatch,
    schemas.ManagerOut, schemas.ManagerPage, schemas.EmployeeBatchIn,
    schemas.EmployeeBatchOut, schemas.ManagerBatchIn, schemas.ManagerBatchOut,
    feed_wire.ChangeFeedPage,
    feed_wire.FeedHead, ProblemBody, Status,
)  # fmt: skip

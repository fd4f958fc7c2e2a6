"""The OpenAPI 3.1 document, built at start from the app's route table and the
msgspec schemas the resources decode and encode with."""

from __future__ import annotations

import re
from typing import Any

import falcon
import falcon.inspect
import msgspec

from domain.model import MAX_ID
from entrypoints.http.openapi.operations import (
    OPERATION_IDS,
    OPERATIONS,
    SCHEMAS,
    Operation,
    tag_of,
)
from entrypoints.http.openapi.prose import CHOICES, HEADERS, PARAMETERS, STATUS_WORDS
from entrypoints.http.route_labels import route_label

PROBLEM = {"$ref": "#/components/schemas/ProblemBody"}
RATE_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
                "RateLimit-Policy", "RateLimit")  # fmt: skip
_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def openapi_document(app: falcon.App[Any, Any], version: str) -> dict[str, Any]:
    """Every route the app serves, each method with its own entry; a route
    without one raises KeyError here, at start."""
    paths: dict[str, dict[str, Any]] = {}
    for route in falcon.inspect.inspect_routes(app):
        template = route_label(route.path)
        for method in route.methods:
            if method.internal:
                continue
            operation = OPERATIONS[(template, method.method)]
            entry = _operation(template, method.method, operation)
            paths.setdefault(template, {})[method.method.lower()] = entry
    _, schemas = msgspec.json.schema_components(
        SCHEMAS, ref_template="#/components/schemas/{name}"
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": "Employee-Manager API", "version": version,
                 "description": CHOICES},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": PARAMETERS,
            "headers": HEADERS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                "description": "An API key made with `employee-api keys create`. "
                "Scope read for GET and HEAD, write for every other method."}},
        },
    }  # fmt: skip


def _operation(template: str, method: str, op: Operation) -> dict[str, Any]:
    scope = "read" if method in ("GET", "HEAD") else "write"
    entry: dict[str, Any] = {
        "summary": op.summary,
        "operationId": OPERATION_IDS[(template, method)],
        "tags": [tag_of(template)],
        "parameters": _parameters(template, op),
        "responses": _responses(method, op),
        "security": [{"bearer": []}] if op.keyed else [],
    }
    if op.keyed:
        entry["x-required-scope"] = scope
    words = [op.description] if op.description else []
    if op.keyed:
        words.append(f"Needs an API key with the `{scope}` scope.")
    if words:
        entry["description"] = " ".join(words)
    if op.request is not None:
        entry["requestBody"] = _request(op)
    return entry


def _parameters(template: str, op: Operation) -> list[dict[str, Any]]:
    found = [
        {"name": name, "in": "path", "required": True, "schema": _ID,
         "description": "ASCII digits; anything else is no route (404)."}
        if name in ("employee_id", "manager_id") else
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", template)
    ]  # fmt: skip
    names = (*op.query, *op.headers_in, "X-Request-ID")
    found += [{"$ref": f"#/components/parameters/{name}"} for name in names]
    return found


def _request(op: Operation) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{op.request.__name__}"}  # type: ignore[union-attr]
    media = ["application/json"]
    if op.merge_patch:
        media.append("application/merge-patch+json")
    return {"required": True, "content": {m: {"schema": schema} for m in media}}


def _responses(method: str, op: Operation) -> dict[str, Any]:
    common = ("X-Request-ID", *(RATE_HEADERS if op.keyed else ()))
    success: dict[str, Any] = {
        "description": STATUS_WORDS[op.ok],
        "headers": _headers((*op.headers_out, *common)),
    }
    if op.body is not None and method != "HEAD":
        schema = {"$ref": f"#/components/schemas/{op.body.__name__}"}
        success["content"] = {op.media: {"schema": schema}}
    elif op.ok == 200 and method != "HEAD":
        kind = "object" if op.media == "application/json" else "string"
        success["content"] = {op.media: {"schema": {"type": kind}}}
    responses: dict[str, Any] = {str(op.ok): success}
    if op.query:
        responses["414"] = _too_long(method)
    statuses = list(op.errors)
    if op.keyed:
        statuses += [401, 403, 405, 429, 503]
    for status in sorted(set(statuses)):
        responses[str(status)] = _problem(status, method, common)
    return responses


def _problem(status: int, method: str, common: tuple[str, ...]) -> dict[str, Any]:
    names = list(common)
    if status in (429, 503):
        names.append("Retry-After")
    if status == 401:
        names.append("WWW-Authenticate")
    if status == 304:
        return {
            "description": STATUS_WORDS[304],
            "headers": _headers(("ETag", *common)),
        }
    answer: dict[str, Any] = {
        "description": STATUS_WORDS[status],
        "headers": _headers(names),
    }
    if method != "HEAD":
        answer["content"] = {"application/problem+json": {"schema": PROBLEM}}
    return answer


def _too_long(method: str) -> dict[str, Any]:
    """gunicorn refuses a request line over 8190 bytes before the app sees it."""
    answer: dict[str, Any] = {"description": STATUS_WORDS[414]}
    if method != "HEAD":
        answer["content"] = {"text/html": {"schema": {"type": "string"}}}
    return answer


def _headers(names: Any) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}

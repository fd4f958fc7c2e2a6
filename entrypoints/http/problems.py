"""application/problem+json (RFC 9457) for every error, and the domain-to-HTTP map."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import falcon
import msgspec

from domain import errors
from domain.errors import FieldError
from entrypoints.http.json_media import encoder

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = "5"

# RFC 9110 reason phrases; Python 3.11's http.HTTPStatus predates some of them.
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

DEFAULT_DETAILS = {
    404: "No such resource.",
    405: "This method is not allowed on this resource.",
    500: "The server failed to handle the request.",
}


class Problem(falcon.HTTPError):
    """An HTTP error with an optional list of per-field validation errors."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        field_errors: Sequence[FieldError] = (),
        headers: dict[str, str] | None = None,
        type_uri: str = "about:blank",
    ) -> None:
        line = f"{status} {TITLES[status]}" if status in TITLES else status
        super().__init__(line, description=detail, headers=headers)
        self.field_errors = list(field_errors)
        self.type_uri = type_uri


def invalid(detail: str, field_errors: Sequence[FieldError] = ()) -> Problem:
    return Problem(422, detail, field_errors)


# A write that went out unanswered (RFC 9457 allows a tag URI, RFC 4151):
# distinct from a plain 503, which means the write was not done.
OUTCOME_UNKNOWN = "tag:employee-api,2026:outcome-unknown"


def unavailable(detail: str | None = None, type_uri: str = "about:blank") -> Problem:
    """503, with the Retry-After every such answer carries."""
    retry = {"Retry-After": RETRY_AFTER_SECONDS}
    return Problem(503, detail, headers=retry, type_uri=type_uri)


class FieldProblem(msgspec.Struct):
    """One offending field or query parameter, by its JSON or query name."""

    field: str
    message: str


class ProblemBody(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details; `errors` only for validation failures."""

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldProblem] | None = None


def serialize_problem(
    req: falcon.Request, resp: falcon.Response, exc: falcon.HTTPError
) -> None:
    status = exc.status_code
    field_errors = getattr(exc, "field_errors", None)
    body = ProblemBody(
        type=getattr(exc, "type_uri", "about:blank"),
        title=TITLES.get(status, exc.title or "Error"),
        status=status,
        detail=exc.description or DEFAULT_DETAILS.get(status),
        errors=[FieldProblem(e.field, e.message) for e in field_errors]
        if field_errors
        else None,
    )
    resp.data = encoder.encode(body)
    resp.content_type = PROBLEM_JSON


# Most specific first: the first class in an exception's MRO that is here wins.
STATUS_FOR: dict[type[errors.DomainError], int] = {
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.ValidationFailed: 422,
    errors.PreconditionFailed: 412,
    errors.StorageUnavailable: 503,
    errors.ChangesExpired: 410,
}


def handle_domain_error(
    req: falcon.Request, resp: falcon.Response, exc: errors.DomainError, params: Any
) -> None:
    status = next(STATUS_FOR[k] for k in type(exc).__mro__ if k in STATUS_FOR)
    if status == 503:  # logged by the storage adapter, once per outage
        unknown = isinstance(exc, errors.OutcomeUnknown)
        raise unavailable(str(exc), OUTCOME_UNKNOWN if unknown else "about:blank")
    field_errors = getattr(exc, "errors", ())  # validation, or a batch's conflicts
    raise Problem(status, str(exc), field_errors)


def handle_unexpected(
    req: falcon.Request, resp: falcon.Response, exc: Exception, params: Any
) -> None:
    if isinstance(exc, falcon.HTTPError):
        raise exc
    log.exception("unhandled error on %s %s", req.method, req.path)
    raise Problem(500)

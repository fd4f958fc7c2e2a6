"""Employees and managers share one resource shape: a collection and its items."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import falcon
from msgspec import Struct

from domain.model import Page, Precondition
from entrypoints import schemas
from entrypoints.body import JSON_ONLY, JSON_OR_MERGE_PATCH, read_object
from entrypoints.conditional import etag, if_match, none_match
from entrypoints.pages import FilterParser, page_body, parse_page_request


class RecordService(Protocol):
    def get(self, record_id: int) -> Any: ...
    def list(self, where: Any, after_id: int, limit: int) -> Page[Any]: ...
    def create(self, draft: Any) -> Any: ...
    def replace(
        self, record_id: int, draft: Any, precondition: Precondition | None
    ) -> Any: ...
    def patch(
        self,
        record_id: int,
        changes: Mapping[str, Any],
        precondition: Precondition | None,
    ) -> Any: ...
    def delete(self, record_id: int, precondition: Precondition | None) -> None: ...


@dataclass(frozen=True, slots=True)
class RecordSchema:
    """How one kind of record looks on the wire."""

    path: str
    body: type[Struct]
    patch: type[Struct]
    to_draft: Callable[[Any], Any]
    to_out: Callable[[Any], Struct]
    page: type[Struct]
    filters: Mapping[str, FilterParser]
    make_filter: Callable[..., Any]


def send_record(resp: falcon.Response, out: Struct, status: int = 200) -> None:
    resp.status = status
    resp.media = out
    resp.set_header("ETag", etag(out.id, out.version))  # type: ignore[attr-defined]


class RecordResource:
    """GET/POST on the collection; GET/PUT/PATCH/DELETE on an item."""

    def __init__(
        self, service: RecordService, schema: RecordSchema, max_body: int
    ) -> None:
        self._service = service
        self._schema = schema
        self._max_body = max_body

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        page_request = parse_page_request(req, self._schema.filters)
        where = self._schema.make_filter(**page_request.filters)
        page = self._service.list(where, page_request.after_id, page_request.limit)
        resp.media = page_body(page, req, resp, self._schema.to_out, self._schema.page)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = schemas.convert(
            read_object(req, self._max_body, JSON_ONLY), self._schema.body
        )
        created = self._service.create(self._schema.to_draft(body))
        resp.location = f"{self._schema.path}/{created.id}"
        send_record(resp, self._schema.to_out(created), 201)

    def on_get_item(
        self, req: falcon.Request, resp: falcon.Response, **ids: int
    ) -> None:
        out = self._schema.to_out(self._service.get(_only(ids)))
        if none_match(req, etag(out.id, out.version)):  # type: ignore[attr-defined]
            resp.status = 304
            resp.set_header("ETag", etag(out.id, out.version))  # type: ignore[attr-defined]
            return
        send_record(resp, out)

    def on_put_item(
        self, req: falcon.Request, resp: falcon.Response, **ids: int
    ) -> None:
        record_id = _only(ids)
        body = schemas.convert(
            read_object(req, self._max_body, JSON_ONLY), self._schema.body
        )
        draft = self._schema.to_draft(body)
        updated = self._service.replace(record_id, draft, if_match(req, record_id))
        send_record(resp, self._schema.to_out(updated))

    def on_patch_item(
        self, req: falcon.Request, resp: falcon.Response, **ids: int
    ) -> None:
        record_id = _only(ids)
        doc = read_object(req, self._max_body, JSON_OR_MERGE_PATCH)
        patch = schemas.convert(doc, self._schema.patch)
        updated = self._service.patch(
            record_id, schemas.changes(patch), if_match(req, record_id)
        )
        send_record(resp, self._schema.to_out(updated))

    def on_delete_item(
        self, req: falcon.Request, resp: falcon.Response, **ids: int
    ) -> None:
        record_id = _only(ids)
        self._service.delete(record_id, if_match(req, record_id))
        resp.status = 204


def _only(ids: dict[str, int]) -> int:
    """The single id in the route ({employee_id} or {manager_id})."""
    (record_id,) = ids.values()
    return record_id

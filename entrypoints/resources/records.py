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
from entrypoints.media import encoder
from entrypoints.pages import FilterParser, parse_page_request, render_page
from entrypoints.response_cache import CachedResponse, ResponseCache, query_key


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
    """How one kind of record looks on the wire, and what its cache keys are."""

    path: str
    collection: str  # cache dependency of every list page
    item_key: Callable[[int], str]  # cache key and dependency of one record
    body: type[Struct]
    patch: type[Struct]
    to_draft: Callable[[Any], Any]
    to_out: Callable[[Any], Struct]
    page: type[Struct]
    filters: Mapping[str, FilterParser]
    make_filter: Callable[..., Any]


def render_record(out: Struct) -> CachedResponse:
    return CachedResponse(encoder.encode(out), etag(out.id, out.version))  # type: ignore[attr-defined]


def send(
    req: falcon.Request,
    resp: falcon.Response,
    rendered: CachedResponse,
    status: int = 200,
) -> None:
    """Send a rendered response; 304 when If-None-Match already has it."""
    if rendered.etag is not None:
        resp.set_header("ETag", rendered.etag)
        if req.method in ("GET", "HEAD") and none_match(req, rendered.etag):
            resp.status = 304
            return
    if rendered.link is not None:
        resp.set_header("Link", rendered.link)
    resp.status = status
    resp.content_type = falcon.MEDIA_JSON
    resp.data = rendered.body


class RecordResource:
    """GET/POST on the collection; GET/PUT/PATCH/DELETE on an item."""

    def __init__(
        self,
        service: RecordService,
        schema: RecordSchema,
        cache: ResponseCache,
        max_body: int,
    ) -> None:
        self._service = service
        self._schema = schema
        self._cache = cache
        self._max_body = max_body

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        page_request = parse_page_request(req, self._schema.filters)
        collection = self._schema.collection
        key = query_key(collection, req.path, sorted(req.params.items()))

        def build() -> CachedResponse:
            where = self._schema.make_filter(**page_request.filters)
            page = self._service.list(where, page_request.after_id, page_request.limit)
            return render_page(page, req, self._schema.to_out, self._schema.page)

        send(req, resp, self._cache.get(key, [collection], build))

    on_head = on_get  # Falcon sends HEAD responses without their body

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = self._decode(req, JSON_ONLY, self._schema.body)
        with self._cache.invalidating([self._schema.collection]):
            created = self._service.create(self._schema.to_draft(body))
        resp.location = f"{self._schema.path}/{created.id}"
        send(req, resp, render_record(self._schema.to_out(created)), 201)

    def on_get_item(
        self, req: falcon.Request, resp: falcon.Response, **ids: int
    ) -> None:
        record_id = _only(ids)
        key = self._schema.item_key(record_id)

        def build() -> CachedResponse:
            return render_record(self._schema.to_out(self._service.get(record_id)))

        send(req, resp, self._cache.get(key, [key], build))

    on_head_item = on_get_item

    def on_put_item(
        self, req: falcon.Request, resp: falcon.Response, **ids: int
    ) -> None:
        record_id = _only(ids)
        draft = self._schema.to_draft(self._decode(req, JSON_ONLY, self._schema.body))
        with self._invalidating(record_id):
            updated = self._service.replace(record_id, draft, if_match(req, record_id))
        send(req, resp, render_record(self._schema.to_out(updated)))

    def on_patch_item(
        self, req: falcon.Request, resp: falcon.Response, **ids: int
    ) -> None:
        record_id = _only(ids)
        patch = self._decode(req, JSON_OR_MERGE_PATCH, self._schema.patch)
        with self._invalidating(record_id):
            updated = self._service.patch(
                record_id, schemas.changes(patch), if_match(req, record_id)
            )
        send(req, resp, render_record(self._schema.to_out(updated)))

    def on_delete_item(
        self, req: falcon.Request, resp: falcon.Response, **ids: int
    ) -> None:
        record_id = _only(ids)
        with self._invalidating(record_id):
            self._service.delete(record_id, if_match(req, record_id))
        resp.status = 204

    def _decode(
        self, req: falcon.Request, media_types: frozenset[str], schema: type[Struct]
    ) -> Any:
        return schemas.convert(read_object(req, self._max_body, media_types), schema)

    def _invalidating(self, record_id: int) -> Any:
        keys = [self._schema.item_key(record_id), self._schema.collection]
        return self._cache.invalidating(keys)


def _only(ids: dict[str, int]) -> int:
    """The single id in the route ({employee_id} or {manager_id})."""
    (record_id,) = ids.values()
    return record_id

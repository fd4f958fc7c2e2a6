"""Employees and managers share one resource shape: a collection and its items."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Generic, TypeVar

import falcon
from msgspec import Struct

from domain.errors import FieldError
from domain.model import (
    D,
    F,
    R,
)
from domain.services import RecordService
from entrypoints.http import schemas
from entrypoints.http.batch import batch_document, batch_items, ordered
from entrypoints.http.body import JSON_ONLY, JSON_OR_MERGE_PATCH, read_object
from entrypoints.http.cached_reads import CachedReads, CacheEntry
from entrypoints.http.conditional import etag, if_match, none_match
from entrypoints.http.idempotency import Idempotency
from entrypoints.http.json_media import encoder
from entrypoints.http.pagination import FilterParser, parse_page_request, render_page
from entrypoints.http.problems import invalid
from entrypoints.http.response_cache import CachedResponse, ResponseCache, query_key

B = TypeVar("B", bound=Struct)  # the body of POST and PUT
S = TypeVar("S", bound=Struct)


@dataclass(frozen=True, slots=True)
class RecordSchema(Generic[R, D, F, B]):
    """How one kind of record looks on the wire, and what its cache keys are."""

    path: str
    collection: str  # cache dependency of every list page
    item_key: Callable[[int], str]  # cache key and dependency of one record
    body: type[B]
    patch: type[Struct]
    to_draft: Callable[[B], D]
    to_out: Callable[[R], Struct]
    page: type[Struct]
    batch_out: type[Struct]
    filters: Mapping[str, FilterParser]
    make_filter: Callable[..., F]


def render_record(record: R, to_out: Callable[[R], Struct]) -> CachedResponse:
    return CachedResponse(
        encoder.encode(to_out(record)), etag(record.id, record.version)
    )


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


class RecordResource(Generic[R, D, F, B]):
    """GET/POST on the collection; GET/PUT/PATCH/DELETE on an item."""

    def __init__(
        self,
        service: RecordService[R, D, F],
        schema: RecordSchema[R, D, F, B],
        *,
        reads: CachedReads,
        cache: ResponseCache,
        idempotency: Idempotency,
        max_body: int,
        batch_max_body: int,
    ) -> None:
        self._service: RecordService[R, D, F] = service
        self._schema: RecordSchema[R, D, F, B] = schema
        self._reads = reads
        self._cache = cache
        self._idempotency = idempotency
        self._max_body = max_body
        self._batch_max_body = batch_max_body

    def list_entry(self, req: falcon.Request, params: Mapping[str, int]) -> CacheEntry:
        """A page of the collection: its path and query; any change of the
        collection invalidates it."""
        key = query_key(self._schema.collection, req.path, sorted(req.params.items()))
        return CacheEntry(key, [self._schema.collection])

    def item_entry(self, req: falcon.Request, params: Mapping[str, int]) -> CacheEntry:
        key = self._schema.item_key(_only(params))
        return CacheEntry(key, [key])

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        page_request = parse_page_request(req, self._schema.filters)

        def build() -> CachedResponse:
            where = self._schema.make_filter(**page_request.filters)
            page = self._service.list(where, page_request.after_id, page_request.limit)
            return render_page(page, req, self._schema.to_out, self._schema.page)

        send(req, resp, self._reads.get(req, {}, build))

    on_head = on_get  # Falcon sends HEAD responses without their body

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        doc = read_object(req, self._max_body, JSON_ONLY)
        if self._idempotency.replayed(req, resp, doc):
            return
        body = schemas.convert(doc, self._schema.body)
        with self._cache.invalidating([self._schema.collection]):
            created = self._service.create(self._schema.to_draft(body))
        resp.location = f"{self._schema.path}/{created.id}"
        send(req, resp, render_record(created, self._schema.to_out), 201)

    def on_post_batch(self, req: falcon.Request, resp: falcon.Response) -> None:
        doc = batch_document(req, self._batch_max_body)
        if self._idempotency.replayed(req, resp, doc):
            return
        items = batch_items(doc, self._schema.body)
        drafts = {i: self._schema.to_draft(body) for i, body in items[0].items()}
        wrong: list[FieldError] = items[1]
        if wrong:  # and the domain's rules of the items whose types were right
            broken: Sequence[FieldError] = self._service.normalized_items(drafts)[1]
            every = ordered([*wrong, *broken])
            raise invalid("Request body failed validation.", every)
        with self._cache.invalidating([self._schema.collection]):
            created = self._service.create_many(list(drafts.values()))
        out = self._schema.batch_out(items=[self._schema.to_out(r) for r in created])
        send(req, resp, CachedResponse(encoder.encode(out)), 201)

    def on_get_item(
        self, req: falcon.Request, resp: falcon.Response, **ids: int
    ) -> None:
        record_id = _only(ids)

        def build() -> CachedResponse:
            return render_record(self._service.get(record_id), self._schema.to_out)

        send(req, resp, self._reads.get(req, ids, build))

    on_head_item = on_get_item

    def on_put_item(
        self, req: falcon.Request, resp: falcon.Response, **ids: int
    ) -> None:
        record_id = _only(ids)
        draft = self._schema.to_draft(self._decode(req, JSON_ONLY, self._schema.body))
        with self._invalidating(record_id):
            updated = self._service.replace(record_id, draft, if_match(req, record_id))
        send(req, resp, render_record(updated, self._schema.to_out))

    def on_patch_item(
        self, req: falcon.Request, resp: falcon.Response, **ids: int
    ) -> None:
        record_id = _only(ids)
        patch = self._decode(req, JSON_OR_MERGE_PATCH, self._schema.patch)
        with self._invalidating(record_id):
            updated = self._service.patch(
                record_id, schemas.changes(patch), if_match(req, record_id)
            )
        send(req, resp, render_record(updated, self._schema.to_out))

    def on_delete_item(
        self, req: falcon.Request, resp: falcon.Response, **ids: int
    ) -> None:
        record_id = _only(ids)
        with self._invalidating(record_id):
            self._service.delete(record_id, if_match(req, record_id))
        resp.status = 204

    def _decode(
        self, req: falcon.Request, media_types: frozenset[str], schema: type[S]
    ) -> S:
        return schemas.convert(read_object(req, self._max_body, media_types), schema)

    def _invalidating(self, record_id: int) -> AbstractContextManager[None]:
        keys = [self._schema.item_key(record_id), self._schema.collection]
        return self._cache.invalidating(keys)


def _only(ids: Mapping[str, int]) -> int:
    """The single id in the route ({employee_id} or {manager_id})."""
    (record_id,) = ids.values()
    return record_id

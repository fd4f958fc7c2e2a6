"""The change feed: GET /v1/changes and GET /v1/changes/head."""

from __future__ import annotations

import falcon

from domain.errors import FieldError
from domain.services import ChangeFeed
from entrypoints.http.feed_wire import (
    FeedHead,
    encode_cursor,
    page_out,
    parse_feed_request,
)
from entrypoints.http.json_media import encoder
from entrypoints.http.problems import invalid


class ChangesResource:
    """Reads only: the feed is written by the stores, with each change."""

    def __init__(self, feed: ChangeFeed) -> None:
        self._feed = feed

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        asked = parse_feed_request(req)
        page = self._feed.page(asked.after, asked.limit, asked.resource)
        _send(resp, encoder.encode(page_out(page)))

    on_head = on_get

    def on_get_head(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.params:
            unknown = [FieldError(n, "unknown query parameter") for n in req.params]
            raise invalid("Invalid query parameters.", unknown)
        _send(resp, encoder.encode(FeedHead(encode_cursor(self._feed.head()))))

    on_head_head = on_get_head


def _send(resp: falcon.Response, body: bytes) -> None:
    resp.content_type = falcon.MEDIA_JSON
    resp.data = body

"""The ceiling: a bare Falcon app that answers every scenario's URL with a
constant body of the size the real service sends, under the same gunicorn
configuration. What the service costs is its distance from this.

BENCH_BODY_SIZES (JSON, scenario -> bytes) is written by bench.run.
"""

from __future__ import annotations

import json
import os
from typing import Any

import falcon

from entrypoints.server.rsgi_bridge import served_by
from settings import Settings

SIZES: dict[str, int] = json.loads(os.environ.get("BENCH_BODY_SIZES", "{}"))


def _body(scenario: str) -> bytes:
    return b"x" * SIZES.get(scenario, 200)


class Collection:
    def __init__(self, page: str) -> None:
        self._page = _body(page)
        self._created = _body("create")

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.data = self._page
        resp.content_type = falcon.MEDIA_JSON

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.bounded_stream.read()
        resp.status = 201
        resp.data = self._created
        resp.content_type = falcon.MEDIA_JSON


class Item:
    def __init__(self) -> None:
        self._one = _body("get_one")
        self._patched = _body("patch")
        self._joined = _body("join")

    def on_get(self, req: falcon.Request, resp: falcon.Response, **ids: Any) -> None:
        resp.data = self._one
        resp.content_type = falcon.MEDIA_JSON

    def on_patch(self, req: falcon.Request, resp: falcon.Response, **ids: Any) -> None:
        req.bounded_stream.read()
        resp.data = self._patched
        resp.content_type = falcon.MEDIA_JSON

    def on_put(self, req: falcon.Request, resp: falcon.Response, **ids: Any) -> None:
        resp.data = self._joined
        resp.content_type = falcon.MEDIA_JSON


app = falcon.App()
app.add_route("/v1/employees", Collection("list_page"))
app.add_route("/v1/employees/{employee_id:int}", Item())
app.add_route("/v1/managers/{manager_id:int}/employees/{employee_id:int}", Item())
app.add_route("/health/live", Item())


def served() -> Any:
    """The app as granian takes it (bench/server.py)."""
    return served_by(Settings.from_env(), app)

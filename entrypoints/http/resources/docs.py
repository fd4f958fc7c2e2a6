"""The OpenAPI document, and a page that renders it with assets of our own."""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping
from pathlib import Path

import falcon

from entrypoints.http.json_media import encoder

# Every asset is served from /docs/static: the page asks no other host.
PAGE = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Employee-Manager API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css">
</head>
<body>
<div id="ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>
SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui", validatorUrl: null});
</script>
</body>
</html>
"""


def swagger_ui_assets() -> Path:
    """Swagger UI 5 (it renders OpenAPI 3.1), as swagger-ui-py ships it."""
    return Path(str(importlib.resources.files("swagger_ui") / "static"))


class OpenApiResource:
    def __init__(self) -> None:
        self._body = b"{}"

    def publish(self, document: Mapping[str, object]) -> None:
        self._body = encoder.encode(document)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.data = self._body
        resp.content_type = falcon.MEDIA_JSON

    on_head = on_get


class DocsResource:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.data = PAGE
        resp.content_type = falcon.MEDIA_HTML

    on_head = on_get

"""The OpenAPI document, and a page that renders it with assets of our own."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
from collections.abc import Mapping
from pathlib import Path

import falcon

from entrypoints.http.json_media import encoder

# The assets' version is in their URL, so a browser may keep them for good:
# a new Swagger UI is a new URL. Every asset is served from here: the page
# asks no other host.
ASSETS_VERSION = importlib.metadata.version("swagger-ui-py")
ASSETS = f"/docs/static/{ASSETS_VERSION}"
PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Employee-Manager API</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
<div id="ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script>
SwaggerUIBundle({{url: "/openapi.json", dom_id: "#ui", validatorUrl: null}});
</script>
</body>
</html>
""".encode()
_TYPES = {".css": "text/css", ".js": "text/javascript", ".png": "image/png",
          ".map": "application/json", ".html": "text/html"}  # fmt: skip


def swagger_ui_assets() -> Path:
    """Swagger UI 5 (it renders OpenAPI 3.1), as swagger-ui-py ships it."""
    return Path(str(importlib.resources.files("swagger_ui") / "static"))


class DocsAssetResource:
    """GET /docs/static/{version}/{name}: Swagger UI's files, immutable. Only
    the files the package ships, by name (no path reaches elsewhere)."""

    def __init__(self, directory: Path) -> None:
        self._files = {
            p.name: p for p in directory.iterdir() if p.suffix in _TYPES and p.is_file()
        }

    def on_get(
        self, req: falcon.Request, resp: falcon.Response, version: str, name: str
    ) -> None:
        path = self._files.get(name)
        if version != ASSETS_VERSION or path is None:
            raise falcon.HTTPNotFound()
        resp.data = path.read_bytes()
        resp.content_type = _TYPES[path.suffix]
        resp.set_header("Cache-Control", "public, max-age=31536000, immutable")

    on_head = on_get


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

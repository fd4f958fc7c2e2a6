"""One log line per request, naming the client by its key's public prefix or
its address, never by a token."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import falcon

from entrypoints.http.route_labels import route_of

request_log = logging.getLogger("api.request")


class RequestLog:
    """Middleware: one INFO line per request, after its metrics are taken."""

    def __init__(self, client_address: Callable[[falcon.Request], str]) -> None:
        self._client_address = client_address

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, ok: bool
    ) -> None:
        if not request_log.isEnabledFor(logging.INFO):
            return
        route = route_of(req)
        duration_ms = round(getattr(req.context, "duration_ms", 0.0), 3)
        status = resp.status_code
        request_log.info(
            "%s %s %s %.1fms",
            req.method,
            route,
            status,
            duration_ms,
            extra={
                "request_id": getattr(req.context, "request_id", None),
                "method": req.method,
                "route": route,
                "status": status,
                "duration_ms": duration_ms,
                "client": self._client(req),
            },
        )

    def _client(self, req: falcon.Request) -> str:
        identity = getattr(req.context, "identity", None)
        if identity is not None and identity.key is not None:
            return f"key:{identity.key.prefix}"
        return f"ip:{self._client_address(req)}"

"""Logging: one line per request, and every line as JSON or as text.

JSON lines come from python-json-logger, so every field is escaped properly;
`LOG_FORMAT=text` is for a person at a terminal. A request line names the
client by its key's public prefix or its address, never by a token.
"""

from __future__ import annotations

import functools
import logging
import logging.config
import re
from collections.abc import Callable
from typing import Any

import falcon

_TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_JSON = "%(levelname)s %(name)s %(message)s"
_RENAMED = {"levelname": "level", "name": "logger"}
request_log = logging.getLogger("api.request")
UNMATCHED = "(unmatched)"  # the route of a request that matched none
_CONVERTER = re.compile(r"\{(\w+):[^}]*\}")


def route_of(req: falcon.Request) -> str:
    """The template of the route that matched, as the contract writes it
    (/v1/employees/{employee_id}, no converter), or UNMATCHED."""
    return route_label(req.uri_template) if req.uri_template else UNMATCHED


@functools.lru_cache(maxsize=64)
def route_label(template: str) -> str:
    """/v1/employees/{employee_id:id} as /v1/employees/{employee_id}."""
    return _CONVERTER.sub(r"{\1}", template)


def logging_config(
    level: str, log_format: str, access_log: bool = False
) -> dict[str, Any]:
    """A dictConfig for this process (gunicorn's logconfig_dict takes it too).
    gunicorn's access lines only with access_log: the app logs each request."""
    formatter: dict[str, Any] = {"format": _TEXT}
    if log_format == "json":
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": _JSON,
            "rename_fields": _RENAMED,
            "timestamp": "time",  # ISO 8601 in UTC, with microseconds
        }
    handler = {"class": "logging.StreamHandler", "formatter": "line"}
    quiet = {"level": "WARNING" if level != "debug" else "DEBUG"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": formatter},
        "handlers": {"stderr": handler},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "propagate": True},
            "gunicorn.access": {"level": "INFO" if access_log else "CRITICAL"},
            # Each migration is one INFO line of ours; its SQL only when debugging.
            "peewee_migrate.logs": quiet,
            "peewee": quiet,
        },
    }


def configure_logging(level: str, log_format: str) -> None:
    logging.config.dictConfig(logging_config(level, log_format))


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

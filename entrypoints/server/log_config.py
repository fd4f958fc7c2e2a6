"""Logging configuration: every line as JSON or as text, for gunicorn and the
command line alike.

JSON lines come from python-json-logger, so every field is escaped properly;
`LOG_FORMAT=text` is for a person at a terminal.
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any

_TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_JSON = "%(levelname)s %(name)s %(message)s"
_RENAMED = {"levelname": "level", "name": "logger"}


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

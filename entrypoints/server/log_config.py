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
    level: str, log_format: str, access_log: str | None = None
) -> dict[str, Any]:
    """A dictConfig for this process (gunicorn's logconfig_dict takes it too).
    Every line is written off the logging thread (log_writer.py). gunicorn's
    access lines only with access_log ("-": standard output, else a file):
    the app logs each request itself."""
    formatter: dict[str, Any] = {"format": _TEXT}
    if log_format == "json":
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": _JSON,
            "rename_fields": _RENAMED,
            "timestamp": "time",  # ISO 8601 in UTC, with microseconds
        }
    writer = "entrypoints.server.log_writer.BackgroundHandler"
    handlers: dict[str, Any] = {"stderr": {"()": writer, "formatter": "line"}}
    access: dict[str, Any] = {"level": "CRITICAL", "propagate": False}
    if access_log:
        target = "stdout" if access_log == "-" else access_log
        # gunicorn formats its access lines itself (access_log_format).
        handlers["access"] = {"()": writer, "stream": target, "formatter": "bare"}
        access = {"level": "INFO", "handlers": ["access"], "propagate": False}
    quiet = {"level": "WARNING" if level != "debug" else "DEBUG"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": formatter, "bare": {"format": "%(message)s"}},
        "handlers": handlers,
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "propagate": True},
            "gunicorn.access": access,
            # Each migration is one INFO line of ours; its SQL only when debugging.
            "peewee_migrate.logs": quiet,
            "peewee": quiet,
        },
    }


def configure_logging(level: str, log_format: str) -> None:
    logging.config.dictConfig(logging_config(level, log_format))

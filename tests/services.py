"""Reaching the real PostgreSQL and Redis that some tests need.

A test that needs a service skips with the reason when it does not answer,
unless REQUIRE_SERVICES=1 (as in CI), which turns that skip into a failure.
"""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit

import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


def unavailable(what: str, why: object) -> None:
    message = f"{what} is not answering ({why}); set it up or see README"
    if required():
        pytest.fail(f"REQUIRE_SERVICES=1 but {message}")
    pytest.skip(message)


def answers(url: str, default_port: int) -> str | None:
    """None when a TCP connection to the URL's host and port succeeds, else why."""
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1
        ):
            return None
    except OSError as exc:
        return str(exc)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path=f"/{name}").geturl()


def new_database_name(prefix: str = "emp_test") -> str:
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"

"""Fixtures for the HTTP tests; the shared ones live in tests/conftest.py."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from falcon import testing

import bootstrap
from adapters.memory.storage import MemoryStorage
from settings import MEMORY_URL
from tests.conftest import UNLIMITED, make_client
from tests.support.clocks import ManualClock

# Nothing listens on port 1 of the loopback interface.
UNREACHABLE_DATABASE_URL = "postgresql://postgres@127.0.0.1:1/nothing"
SMALL_BODY_LIMIT = 256


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 26, 3, 0, 0, tzinfo=UTC))


@pytest.fixture
def clocked_client(
    memory_storage: MemoryStorage, clock: ManualClock
) -> testing.TestClient:
    """The real app over in-memory storage, with a clock the test controls."""
    return make_client(memory_storage, clock=clock)


def _app_with(**changes: object) -> testing.TestClient:
    """The real app, built by bootstrap alone from settings (no injected store)."""
    settings = dataclasses.replace(UNLIMITED, **changes)  # type: ignore[arg-type]
    return testing.TestClient(bootstrap.bootstrap(settings=settings))


@pytest.fixture
def small_body_client() -> testing.TestClient:
    """The real app configured with a body limit far below the default."""
    http = dataclasses.replace(UNLIMITED.http, max_body_bytes=SMALL_BODY_LIMIT)
    return _app_with(database_url=MEMORY_URL, http=http)


@pytest.fixture
def offline_client() -> testing.TestClient:
    """The real app pointed at a PostgreSQL server that does not exist."""
    return _app_with(database_url=UNREACHABLE_DATABASE_URL)

"""A process with many clients connected holds descriptors numbered 1,024
and above; every wait on PostgreSQL must still work there (select() refuses
such descriptors with "filedescriptor out of range")."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from adapters.sql.database import open_database
from adapters.sql.deadline import poll_milliseconds
from adapters.sql.storage import SqlStorage


@pytest.fixture
def high_descriptors() -> Iterator[None]:
    """Holds the low descriptors, so the next ones opened are above 1,024."""
    held = []
    try:
        while not held or held[-1] < 1100:
            held.append(os.open(os.devnull, os.O_RDONLY))
        yield
    finally:
        for fd in held:
            os.close(fd)


@pytest.mark.postgres
def test_queries_work_on_a_connection_above_descriptor_1024(
    postgres_url: str, high_descriptors: None
) -> None:
    storage = SqlStorage(open_database(postgres_url))
    try:
        with storage(write=False):
            (one,) = storage.db.execute_sql("SELECT 1").fetchone()
            assert storage.db.connection().fileno() > 1024
        assert one == 1
        # Checked out again: the pool looks at the idle connection's socket.
        with storage(write=False):
            assert storage.db.execute_sql("SELECT 2").fetchone() == (2,)
        assert storage.ping()
    finally:
        storage.close()


@pytest.mark.parametrize(
    ("seconds", "milliseconds"),
    [(None, None), (0, 0), (0.0001, 1), (0.001, 1), (0.0011, 2), (2.5, 2500)],
)
def test_a_poll_timeout_rounds_up_but_never_makes_a_check_wait(
    seconds: float | None, milliseconds: int | None
) -> None:
    # The pool checks an idle connection with a wait of 0: a millisecond
    # there was a millisecond on every request that used the database.
    assert poll_milliseconds(seconds) == milliseconds

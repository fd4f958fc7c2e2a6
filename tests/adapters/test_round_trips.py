"""What each use case sends PostgreSQL, exchange by exchange.

BEGIN travels with a transaction's first statement; a create with nothing to
check is one INSERT, a patch with nothing to check one UPDATE, with no
transaction around them; a read is one SELECT.
Each exchange listed is one statement string as peewee's query hooks see it;
the COMMIT of a transaction goes through the cursor and is not listed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.clock import SystemClock
from adapters.sql.storage import SqlStorage
from domain.errors import DuplicateEmail
from domain.model import EmployeeDraft, ManagerDraft
from domain.services import EmployeeService, ManagerService, TeamService

pytestmark = pytest.mark.postgres


class Exchanges:
    def __init__(self, storage: SqlStorage) -> None:
        self.sent: list[str] = []
        storage.db.query_hooks.append(lambda event: self.sent.append(event.sql))

    def during(self, action: Any) -> list[str]:
        self.sent.clear()
        action()
        return [_shape(sql) for sql in self.sent]


_TIMEOUT = re.compile(
    r"SET LOCAL statement_timeout = \d+; "
    r"SET LOCAL idle_in_transaction_session_timeout = \d+; "
)


def _shape(sql: str) -> str:
    """'BEGIN; SET LOCAL ...; SELECT "t1"."id", ... FOR UPDATE' -> 'BEGIN;
    SELECT FOR UPDATE' (the statement timeout rides along: see below)."""
    keep = {"BEGIN", "SELECT", "INSERT", "UPDATE", "FOR", "SHARE", ";"}
    words = _TIMEOUT.sub("", sql).replace(";", " ;").split()
    return " ".join(w for w in words if w in keep).replace(" ;", ";")


@pytest.fixture
def sent(postgres_storage: SqlStorage) -> Iterator[Exchanges]:
    yield Exchanges(postgres_storage)


def test_a_create_with_nothing_to_check_is_one_insert(
    postgres_storage: SqlStorage, sent: Exchanges
) -> None:
    employees = EmployeeService(postgres_storage, SystemClock())
    draft = EmployeeDraft("Ada", "ada@x.io")
    assert sent.during(lambda: employees.create(draft)) == ["INSERT"]


def test_a_patch_is_one_update_and_is_stored(
    postgres_storage: SqlStorage, sent: Exchanges
) -> None:
    employees = EmployeeService(postgres_storage, SystemClock())
    ada = employees.create(EmployeeDraft("Ada", "ada@x.io"))
    exchanges = sent.during(lambda: employees.patch(ada.id, {"title": "CTO"}, None))
    assert exchanges == ["UPDATE"]
    stored = employees.get(ada.id)
    assert (stored.title, stored.version) == ("CTO", 2)


def test_a_patch_that_writes_nothing_then_reads_to_tell_why(
    postgres_storage: SqlStorage, sent: Exchanges
) -> None:
    employees = EmployeeService(postgres_storage, SystemClock())
    ada = employees.create(EmployeeDraft("Ada", "ada@x.io", title="CTO"))
    same = sent.during(lambda: employees.patch(ada.id, {"title": "CTO"}, None))
    assert same == ["UPDATE", "SELECT"]
    assert employees.get(ada.id) == ada  # no change: the same version


def test_a_patch_naming_a_manager_checks_it_under_locks(
    postgres_storage: SqlStorage, sent: Exchanges
) -> None:
    clock = SystemClock()
    boss = ManagerService(postgres_storage, clock).create(ManagerDraft("G", "g@x.io"))
    employees = EmployeeService(postgres_storage, clock)
    ada = employees.create(EmployeeDraft("Ada", "ada@x.io"))
    changes = {"manager_id": boss.id}
    assert sent.during(lambda: employees.patch(ada.id, changes, None)) == [
        "BEGIN; SELECT FOR UPDATE",
        "SELECT FOR SHARE",
        "UPDATE",
    ]


def test_a_join_is_two_exchanges_and_a_repeated_one_a_single_read(
    postgres_storage: SqlStorage, sent: Exchanges
) -> None:
    clock = SystemClock()
    boss = ManagerService(postgres_storage, clock).create(ManagerDraft("G", "g@x.io"))
    ada = EmployeeService(postgres_storage, clock).create(
        EmployeeDraft("Ada", "ada@x.io")
    )
    teams = TeamService(postgres_storage, clock)
    assert sent.during(lambda: teams.join(boss.id, ada.id, None)) == [
        "BEGIN; SELECT FOR UPDATE",
        "SELECT FOR SHARE",
        "UPDATE",
    ]
    assert sent.during(lambda: teams.already_member(boss.id, ada.id, None)) == [
        "SELECT"
    ]


def test_an_update_the_unique_index_refuses_is_duplicate_email(
    postgres_storage: SqlStorage,
) -> None:
    employees = EmployeeService(postgres_storage, SystemClock())
    employees.create(EmployeeDraft("Ada", "ada@x.io"))
    bob = employees.create(EmployeeDraft("Bob", "bob@x.io"))
    with pytest.raises(DuplicateEmail):
        employees.patch(bob.id, {"email": "ada@x.io"}, None)
    assert employees.get(bob.id) == bob
    # The connection went back to the pool clean: the next unit works.
    assert employees.patch(bob.id, {"title": "CFO"}, None).version == 2


def test_a_read_is_one_select_without_a_transaction(
    postgres_storage: SqlStorage, sent: Exchanges
) -> None:
    employees = EmployeeService(postgres_storage, SystemClock())
    ada = employees.create(EmployeeDraft("Ada", "ada@x.io"))
    assert sent.during(lambda: employees.get(ada.id)) == ["SELECT"]


def test_the_statement_timeout_rides_with_each_transaction_and_lone_statement(
    postgres_storage: SqlStorage,
) -> None:
    """No exchange of its own, and no session setting a pooler would lose:
    SET LOCAL at the head of what starts a transaction or runs alone; the
    statements inside a transaction need nothing more."""
    hooked: list[str] = []
    postgres_storage.db.query_hooks.append(lambda event: hooked.append(event.sql))
    clock = SystemClock()
    employees = EmployeeService(postgres_storage, clock)
    boss = ManagerService(postgres_storage, clock).create(
        ManagerDraft("Boss", "boss@example.com")
    )
    ada = employees.create(EmployeeDraft("Ada", "ada@example.com"))
    hooked.clear()
    TeamService(postgres_storage, clock).join(boss.id, ada.id, None)
    joined = list(hooked)
    hooked.clear()
    employees.get(ada.id)
    head = (
        "SET LOCAL statement_timeout = 5000; "
        "SET LOCAL idle_in_transaction_session_timeout = 1000; "
    )
    assert joined[0].startswith(f"BEGIN; {head}") and head not in joined[1], joined
    assert hooked[0].startswith(head), hooked

"""Races on PostgreSQL: many threads, one barrier, and every outcome accounted for.

Each thread runs one use case through its own pooled connection. The pool is
wider than the number of threads, so all of them really are in the database at
once rather than queueing for a connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest

from adapters.clock import SystemClock
from adapters.sql.database import open_database
from adapters.sql.storage import SqlStorage
from domain.errors import (
    AlreadyInAnotherTeam,
    ConcurrentUpdate,
    Conflict,
    DomainError,
    DuplicateEmail,
    ManagerHasEmployees,
    ManagerNotFound,
)
from domain.model import EmployeeDraft, EmployeeFilter, ManagerDraft
from domain.ports import Lock
from domain.services import EmployeeService, ManagerService, TeamService
from settings import PoolSettings

pytestmark = pytest.mark.postgres

THREADS = 20
ROUNDS = 5


@dataclass
class App:
    employees: EmployeeService
    managers: ManagerService
    teams: TeamService


@pytest.fixture
def app(postgres_storage: SqlStorage, any_postgres_url: str) -> Iterator[App]:
    """Directly, and through PgBouncer in transaction mode. postgres_storage
    empties the tables; this factory gives every thread a connection."""
    db = open_database(any_postgres_url, PoolSettings(max_connections=THREADS + 5))
    store, clock = SqlStorage(db), SystemClock()
    yield App(
        EmployeeService(store, clock),
        ManagerService(store, clock),
        TeamService(store, clock),
    )
    db.close_all()


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own thread, released together; results or errors."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait(timeout=30)
        try:
            return call()
        except DomainError as error:
            return error

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def successes(outcomes: list[Any]) -> list[Any]:
    return [o for o in outcomes if not isinstance(o, BaseException)]


def test_twenty_simultaneous_joins_to_different_managers_let_exactly_one_win(
    app: App,
) -> None:
    for round_ in range(ROUNDS):
        managers = [
            app.managers.create(ManagerDraft(f"M{i}", f"m{i}.r{round_}@x.io"))
            for i in range(THREADS)
        ]
        employee = app.employees.create(EmployeeDraft("E", f"e.r{round_}@x.io"))
        outcomes = race(
            [partial(app.teams.join, m.id, employee.id, None) for m in managers]
        )
        (winner,) = successes(outcomes)
        losers = [o for o in outcomes if o is not winner]
        assert len(losers) == THREADS - 1
        assert all(isinstance(o, Conflict) for o in losers), losers
        stored = app.employees.get(employee.id)
        assert stored == winner
        assert (stored.manager_id, stored.version) == (winner.manager_id, 2)
        assert outcomes.index(winner) == [m.id for m in managers].index(
            winner.manager_id
        )


# Few joiners give the delete a fair chance to win; many make it lose.
JOINERS_PER_ROUND = [1, 1, 1, 1, 2, 2, 3, 5, 10, THREADS - 1]


@pytest.mark.parametrize("joiners", JOINERS_PER_ROUND)
def test_deleting_a_manager_while_employees_join_never_loses_a_join(
    app: App, joiners: int
) -> None:
    for round_ in range(ROUNDS):
        boss = app.managers.create(ManagerDraft("Boss", f"boss.r{round_}@x.io"))
        staff = [
            app.employees.create(EmployeeDraft(f"E{i}", f"e{i}.r{round_}@x.io"))
            for i in range(joiners)
        ]
        joins = [partial(app.teams.join, boss.id, e.id, None) for e in staff]
        # The delete sits in the middle, racing joins on both sides of it.
        middle = joiners // 2
        delete = partial(app.managers.delete, boss.id, None)
        outcomes = race([*joins[:middle], delete, *joins[middle:]])
        deleted = outcomes.pop(middle)
        joined = {o.id for o in successes(outcomes)}
        stored = {e.id: app.employees.get(e.id).manager_id for e in staff}
        if deleted is None:
            assert joined == set()
            assert all(isinstance(o, ManagerNotFound | Conflict) for o in outcomes), (
                outcomes
            )
            assert set(stored.values()) == {None}
            with pytest.raises(ManagerNotFound):
                app.managers.get(boss.id)
        else:
            assert isinstance(deleted, ManagerHasEmployees), deleted
            assert app.managers.get(boss.id) == boss
            # The manager stayed, so no join had a reason to fail.
            assert joined == set(stored), outcomes
            assert set(stored.values()) == {boss.id}


def test_simultaneous_creates_with_one_email_store_exactly_one(app: App) -> None:
    for round_ in range(ROUNDS):
        emails = [
            f"same.r{round_}@x.io".upper() if i % 2 else f"same.r{round_}@x.io"
            for i in range(THREADS)
        ]
        outcomes = race(
            [
                partial(app.employees.create, EmployeeDraft(f"E{i}", email))
                for i, email in enumerate(emails)
            ]
        )
        (winner,) = successes(outcomes)
        errors = [o for o in outcomes if o is not winner]
        assert all(isinstance(o, DuplicateEmail) for o in errors), errors
        stored = app.employees.list(EmployeeFilter(q=f"same.r{round_}@"), 0, 500)
        assert stored.items == [winner]


def test_simultaneous_manager_creates_with_one_email_store_exactly_one(
    app: App,
) -> None:
    outcomes = race(
        [
            partial(
                app.managers.create,
                ManagerDraft(f"M{i}", f"{'BOSS' if i % 2 else 'boss'}@x.io"),
            )
            for i in range(THREADS)
        ]
    )
    (winner,) = successes(outcomes)
    assert all(isinstance(o, DuplicateEmail) for o in outcomes if o is not winner)
    assert app.managers.get(winner.id) == winner


def test_racing_joins_and_manager_id_patches_serialise_into_one_history(
    app: App,
) -> None:
    managers = [
        app.managers.create(ManagerDraft(f"M{i}", f"m{i}@x.io")) for i in range(THREADS)
    ]
    employee = app.employees.create(EmployeeDraft("E", "e@x.io"))
    calls = [
        partial(app.teams.join, m.id, employee.id, None)
        if i % 2
        else partial(app.employees.patch, employee.id, {"manager_id": m.id}, None)
        for i, m in enumerate(managers)
    ]
    outcomes = race(calls)
    changes = successes(outcomes)
    patches, joins = outcomes[0::2], outcomes[1::2]
    assert not any(isinstance(o, DomainError) for o in patches), patches
    assert all(isinstance(o, AlreadyInAnotherTeam) for o in joins if o not in changes)
    # Every success is one step of a single history: versions 2, 3, ... in turn.
    versions = sorted(c.version for c in changes)
    assert versions == list(range(2, 2 + len(changes)))
    last = max(changes, key=lambda c: c.version)
    assert app.employees.get(employee.id) == last


def test_a_deadlock_is_a_retryable_conflict_not_an_outage(
    app: App, any_postgres_url: str
) -> None:
    first = app.managers.create(ManagerDraft("One", "one@example.com"))
    second = app.managers.create(ManagerDraft("Two", "two@example.com"))
    db = open_database(any_postgres_url, PoolSettings(max_connections=4))
    store = SqlStorage(db)
    both_locked_one = threading.Barrier(2)

    def lock_in_order(ids: tuple[int, int]) -> str:
        try:
            with store() as uow:
                uow.managers.get(ids[0], lock=Lock.UPDATE)
                both_locked_one.wait(timeout=10)
                uow.managers.get(ids[1], lock=Lock.UPDATE)
                uow.commit()
        except ConcurrentUpdate:
            return "conflict"
        return "ok"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(
            pool.map(lock_in_order, [(first.id, second.id), (second.id, first.id)])
        )
    # PostgreSQL breaks the cycle by aborting one side; the pool survives.
    assert outcomes == ["conflict", "ok"]
    assert app.managers.get(first.id).version == 1
    db.close_all()

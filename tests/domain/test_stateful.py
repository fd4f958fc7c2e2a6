"""Random sequences of writes against the services, checked against a plain model.

The reference model below is dictionaries and a few lines of rules per use case,
written from the contract rather than from the services. Where the contract
does not say which of two errors wins (a duplicate email and an unknown manager
in one request, say), the model accepts either. After every step the whole
stored state must equal the model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from adapters.memory.storage import MemoryStorage
from adapters.sql.database import is_postgres
from adapters.sql.storage import SqlStorage
from domain.errors import (
    AlreadyInAnotherTeam,
    DomainError,
    DuplicateEmail,
    EmployeeNotFound,
    ManagerHasEmployees,
    ManagerNotFound,
    NotInTeam,
    PreconditionFailed,
    ValidationFailed,
)
from domain.model import (
    EmployeeDraft,
    EmployeeFilter,
    ManagerDraft,
    ManagerFilter,
    Precondition,
)
from domain.ports import UnitOfWorkFactory
from domain.services import EmployeeService, ManagerService, TeamService
from tests.support.clocks import ManualClock
from tests.support.services import empty_tables

# Small pools make collisions (the same email in another case) common; one
# invalid value per pool exercises the field rules.
NAMES = ["Ada", "  Ada ", "Straße", "Bob", "Cy", "   "]
EMAILS = [
    "ada@x.io",
    "ADA@x.io",
    "bob@x.io",
    "Bob@X.io",
    "cy@x.io",
    "dee@x.io",
    "Eve@x.io",
    "fay@x.io",
    "not-an-email",
]
INVALID = {"   ", "not-an-email"}
SEED_EMAILS = ["ada@x.io", "bob@x.io", "s1@seed.io", "s2@seed.io"]
TEXTS = [None, "R&D", "r&d", "Ops"]
# Ids start at 1 in a fresh store, so most of these exist and some do not.
EMPLOYEE_IDS = st.integers(1, 6)
MANAGER_IDS = st.integers(1, 4)
MANAGER_REFS = st.one_of(st.none(), MANAGER_IDS)
PRECONDITIONS = st.sampled_from(["none", "none", "current", "any", "stale"])

EMPLOYEE_FIELDS = ("name", "email", "title", "department", "manager_id")
MANAGER_FIELDS = ("name", "email", "department")

Row = dict[str, Any]
# The record a call returns, or the errors it may raise (none: it returns None).
Expected = Row | set[type[DomainError]]


class Model:
    """The contract's rules over two dicts of plain rows."""

    def __init__(self) -> None:
        self.employees: dict[int, Row] = {}
        self.managers: dict[int, Row] = {}
        self.seen_ids: dict[str, set[int]] = {"employees": set(), "managers": set()}

    @staticmethod
    def normalised(fields: Row) -> Row | None:
        if fields["name"] in INVALID or fields["email"] in INVALID:
            return None
        return {
            **fields,
            "name": fields["name"].strip(),
            "email": fields["email"].lower(),
        }

    def email_taken(self, table: dict[int, Row], email: str, own: int | None) -> bool:
        return any(row["email"] == email for i, row in table.items() if i != own)

    def conflicts(
        self, table: dict[int, Row], fields: Row, current: Row | None, own: int | None
    ) -> set[type[DomainError]]:
        found: set[type[DomainError]] = set()
        if (
            current is None or fields["email"] != current["email"]
        ) and self.email_taken(table, fields["email"], own):
            found.add(DuplicateEmail)
        wanted = fields.get("manager_id")
        moved = current is None or wanted != current.get("manager_id")
        if wanted is not None and moved and wanted not in self.managers:
            found.add(ValidationFailed)
        return found

    def create(self, table: dict[int, Row], fields: Row, now: datetime) -> Expected:
        clean = self.normalised(fields)
        if clean is None:
            return {ValidationFailed}
        return self.conflicts(table, clean, None, None) or {
            **clean,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }

    def write(
        self,
        table: dict[int, Row],
        record_id: int,
        merged: Callable[[Row], Row],
        *,
        precondition: str,
        now: datetime,
        missing: type[DomainError],
    ) -> Expected:
        current = table.get(record_id)
        if current is None:
            return {missing}
        if precondition == "stale":
            return {PreconditionFailed}
        clean = self.normalised(merged(current))
        if clean is None:
            return {ValidationFailed}
        if all(clean[k] == current[k] for k in clean):
            return current
        return self.conflicts(table, clean, current, record_id) or {
            **current,
            **clean,
            "version": current["version"] + 1,
            "updated_at": now,
        }

    def delete_employee(self, record_id: int, precondition: str) -> Expected:
        if record_id not in self.employees:
            return {EmployeeNotFound}
        return {PreconditionFailed} if precondition == "stale" else set()

    def delete_manager(self, record_id: int, precondition: str) -> Expected:
        if record_id not in self.managers:
            return {ManagerNotFound}
        if precondition == "stale":
            return {PreconditionFailed}
        if any(e["manager_id"] == record_id for e in self.employees.values()):
            return {ManagerHasEmployees}
        return set()

    def missing_pair(self, manager_id: int, employee_id: int) -> set[type[DomainError]]:
        missing: set[type[DomainError]] = set()
        if employee_id not in self.employees:
            missing.add(EmployeeNotFound)
        if manager_id not in self.managers:
            missing.add(ManagerNotFound)
        return missing

    def join(self, m: int, e: int, precondition: str, now: datetime) -> Expected:
        missing = self.missing_pair(m, e)
        if missing:
            return missing
        if precondition == "stale":
            return {PreconditionFailed}
        current = self.employees[e]
        if current["manager_id"] == m:
            return current
        if current["manager_id"] is not None:
            return {AlreadyInAnotherTeam}
        return self.bumped(current, m, now)

    def leave(self, m: int, e: int, precondition: str, now: datetime) -> Expected:
        missing = self.missing_pair(m, e)
        if missing:
            return missing
        current = self.employees[e]
        refused: set[type[DomainError]] = set()
        if current["manager_id"] != m:
            refused.add(NotInTeam)
        if precondition == "stale":
            refused.add(PreconditionFailed)
        return refused or self.bumped(current, None, now)

    @staticmethod
    def bumped(current: Row, manager_id: int | None, now: datetime) -> Row:
        version = current["version"] + 1
        return {
            **current,
            "manager_id": manager_id,
            "version": version,
            "updated_at": now,
        }


def as_row(record: Any) -> Row:
    row = dataclasses.asdict(record)
    del row["id"]
    return row


class EmployeeManagerMachine(RuleBasedStateMachine):
    """Drives the services of one store and checks every outcome."""

    def __init__(self, store: UnitOfWorkFactory) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.employees = EmployeeService(store, self.clock)
        self.managers = ManagerService(store, self.clock)
        self.teams = TeamService(store, self.clock)
        self.model = Model()

    # Running a call and comparing it with the model.

    def check(self, kind: str, call: Callable[[], Any], expected: Expected) -> Any:
        try:
            result = call()
        except DomainError as error:
            event(f"{kind}: {type(error).__name__}")
            assert isinstance(expected, set), f"expected {expected}, got {error!r}"
            assert type(error) in expected, f"expected one of {expected}, got {error!r}"
            return None
        assert not isinstance(expected, set) or not expected, (
            f"expected one of {expected}, got {result!r}"
        )
        event(f"{kind}: success")
        if result is not None:
            assert as_row(result) == expected
            getattr(self.model, kind)[result.id] = expected
        return result

    def precondition(self, table: dict[int, Row], record_id: int, how: str) -> Any:
        version = table[record_id]["version"] if record_id in table else 1
        return {
            "none": None,
            "current": Precondition(versions=frozenset({version})),
            "stale": Precondition(versions=frozenset({version + 1, version - 1})),
            "any": Precondition(any_version=True),
        }[how]

    def created(self, kind: str, result: Any) -> None:
        if result is not None:
            assert result.id not in self.model.seen_ids[kind], "an id was reused"
            self.model.seen_ids[kind].add(result.id)

    # Rules.

    @initialize(managers=st.integers(2, 3), employees=st.integers(3, 4))
    def seed(self, managers: int, employees: int) -> None:
        """A few valid records to start from; the first employee has a manager."""
        for email in SEED_EMAILS[:managers]:
            self.create_manager(name="Boss", email=email, department=None)
        boss = min(self.model.managers)
        for i, email in enumerate(SEED_EMAILS[:employees]):
            self.create_employee(
                name="Staff",
                email=email,
                title=None,
                department=None,
                manager_id=None if i else boss,
            )

    @rule()
    def tick(self) -> None:
        self.clock.advance(1)

    @rule(
        name=st.sampled_from(NAMES),
        email=st.sampled_from(EMAILS),
        title=st.sampled_from(TEXTS),
        department=st.sampled_from(TEXTS),
        manager_id=MANAGER_REFS,
    )
    def create_employee(self, **fields: Any) -> None:
        expected = self.model.create(self.model.employees, fields, self.clock.now())
        draft = EmployeeDraft(**fields)
        result = self.check("employees", lambda: self.employees.create(draft), expected)
        self.created("employees", result)

    @rule(
        name=st.sampled_from(NAMES),
        email=st.sampled_from(EMAILS),
        department=st.sampled_from(TEXTS),
    )
    def create_manager(self, **fields: Any) -> None:
        expected = self.model.create(self.model.managers, fields, self.clock.now())
        draft = ManagerDraft(**fields)
        result = self.check("managers", lambda: self.managers.create(draft), expected)
        self.created("managers", result)

    @rule(
        record_id=EMPLOYEE_IDS,
        how=PRECONDITIONS,
        name=st.sampled_from(NAMES),
        email=st.sampled_from(EMAILS),
        title=st.sampled_from(TEXTS),
        department=st.sampled_from(TEXTS),
        manager_id=MANAGER_REFS,
    )
    def replace_employee(self, record_id: int, how: str, **fields: Any) -> None:
        pre = self.precondition(self.model.employees, record_id, how)
        expected = self.model.write(
            self.model.employees,
            record_id,
            lambda _: fields,
            precondition=how,
            now=self.clock.now(),
            missing=EmployeeNotFound,
        )
        draft = EmployeeDraft(**fields)
        self.check(
            "employees", lambda: self.employees.replace(record_id, draft, pre), expected
        )

    @rule(
        record_id=EMPLOYEE_IDS,
        how=PRECONDITIONS,
        changes=st.fixed_dictionaries(
            {},
            optional={
                "name": st.sampled_from(NAMES),
                "email": st.sampled_from(EMAILS),
                "title": st.sampled_from(TEXTS),
                "department": st.sampled_from(TEXTS),
                "manager_id": MANAGER_REFS,
            },
        ),
    )
    def patch_employee(self, record_id: int, how: str, changes: Row) -> None:
        pre = self.precondition(self.model.employees, record_id, how)
        expected = self.model.write(
            self.model.employees,
            record_id,
            lambda current: {**{k: current[k] for k in EMPLOYEE_FIELDS}, **changes},
            precondition=how,
            now=self.clock.now(),
            missing=EmployeeNotFound,
        )
        self.check(
            "employees", lambda: self.employees.patch(record_id, changes, pre), expected
        )

    @rule(
        record_id=MANAGER_IDS,
        how=PRECONDITIONS,
        name=st.sampled_from(NAMES),
        email=st.sampled_from(EMAILS),
        department=st.sampled_from(TEXTS),
    )
    def replace_manager(self, record_id: int, how: str, **fields: Any) -> None:
        pre = self.precondition(self.model.managers, record_id, how)
        expected = self.model.write(
            self.model.managers,
            record_id,
            lambda _: fields,
            precondition=how,
            now=self.clock.now(),
            missing=ManagerNotFound,
        )
        draft = ManagerDraft(**fields)
        self.check(
            "managers", lambda: self.managers.replace(record_id, draft, pre), expected
        )

    @rule(
        record_id=MANAGER_IDS,
        how=PRECONDITIONS,
        changes=st.fixed_dictionaries(
            {},
            optional={
                "name": st.sampled_from(NAMES),
                "email": st.sampled_from(EMAILS),
                "department": st.sampled_from(TEXTS),
            },
        ),
    )
    def patch_manager(self, record_id: int, how: str, changes: Row) -> None:
        pre = self.precondition(self.model.managers, record_id, how)
        expected = self.model.write(
            self.model.managers,
            record_id,
            lambda current: {**{k: current[k] for k in MANAGER_FIELDS}, **changes},
            precondition=how,
            now=self.clock.now(),
            missing=ManagerNotFound,
        )
        self.check(
            "managers", lambda: self.managers.patch(record_id, changes, pre), expected
        )

    @rule(manager_id=MANAGER_IDS, employee_id=EMPLOYEE_IDS, how=PRECONDITIONS)
    def join(self, manager_id: int, employee_id: int, how: str) -> None:
        pre = self.precondition(self.model.employees, employee_id, how)
        expected = self.model.join(manager_id, employee_id, how, self.clock.now())
        self.check(
            "employees", lambda: self.teams.join(manager_id, employee_id, pre), expected
        )

    @rule(manager_id=MANAGER_IDS, employee_id=EMPLOYEE_IDS, how=PRECONDITIONS)
    def leave(self, manager_id: int, employee_id: int, how: str) -> None:
        pre = self.precondition(self.model.employees, employee_id, how)
        expected = self.model.leave(manager_id, employee_id, how, self.clock.now())
        self.check(
            "employees",
            lambda: self.teams.leave(manager_id, employee_id, pre),
            expected,
        )

    @rule(record_id=EMPLOYEE_IDS, how=PRECONDITIONS)
    def delete_employee(self, record_id: int, how: str) -> None:
        pre = self.precondition(self.model.employees, record_id, how)
        expected = self.model.delete_employee(record_id, how)
        self.check("employees", lambda: self.employees.delete(record_id, pre), expected)
        if not expected:
            del self.model.employees[record_id]

    @rule(record_id=MANAGER_IDS, how=PRECONDITIONS)
    def delete_manager(self, record_id: int, how: str) -> None:
        pre = self.precondition(self.model.managers, record_id, how)
        expected = self.model.delete_manager(record_id, how)
        self.check("managers", lambda: self.managers.delete(record_id, pre), expected)
        if not expected:
            del self.model.managers[record_id]

    # The whole stored state, after every step.

    @invariant()
    def stored_state_equals_the_model(self) -> None:
        employees = self.employees.list(EmployeeFilter(), 0, 500).items
        managers = self.managers.list(ManagerFilter(), 0, 500).items
        assert {e.id: as_row(e) for e in employees} == self.model.employees
        assert {m.id: as_row(m) for m in managers} == self.model.managers

    @invariant()
    def every_team_lists_exactly_its_members(self) -> None:
        for manager_id in self.model.managers:
            listed = self.teams.members(manager_id, 0, 500).items
            expected = sorted(
                i
                for i, e in self.model.employees.items()
                if e["manager_id"] == manager_id
            )
            assert [e.id for e in listed] == expected


RUNS = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def wipe(store: SqlStorage) -> SqlStorage:
    """Empty both tables and restart the ids, so each example starts at id 1."""
    db = store.db
    if is_postgres(db):
        empty_tables(db)
        return store
    db.connect(reuse_if_open=True)
    for statement in (
        "DELETE FROM employee",
        "DELETE FROM manager",
        "DELETE FROM sqlite_sequence",
    ):
        db.execute_sql(statement)
    db.close()
    return store


def run_machine(make_store: Callable[[], UnitOfWorkFactory]) -> None:
    class Machine(EmployeeManagerMachine):
        def __init__(self) -> None:
            super().__init__(make_store())

    run_state_machine_as_test(Machine, settings=RUNS)


def test_random_write_sequences_match_the_model_in_memory() -> None:
    run_machine(MemoryStorage)


def test_random_write_sequences_match_the_model_on_sqlite(
    sqlite_storage: SqlStorage,
) -> None:
    run_machine(lambda: wipe(sqlite_storage))


@pytest.mark.postgres
def test_random_write_sequences_match_the_model_on_postgres(
    postgres_storage: SqlStorage,
) -> None:
    run_machine(lambda: wipe(postgres_storage))

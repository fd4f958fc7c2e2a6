"""The use cases, against every storage adapter: the bulk of the pyramid."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.errors import (
    AlreadyInAnotherTeam,
    DuplicateEmail,
    EmployeeNotFound,
    ManagerHasEmployees,
    ManagerNotFound,
    NotFound,
    NotInTeam,
    PreconditionFailed,
    ValidationFailed,
)
from domain.model import (
    MAX_ID,
    Employee,
    EmployeeDraft,
    EmployeeFilter,
    Manager,
    ManagerDraft,
    ManagerFilter,
    Precondition,
)
from domain.ports import UnitOfWorkFactory
from domain.services import EmployeeService, ManagerService, TeamService
from tests.support.clocks import ManualClock

START = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


@dataclass
class App:
    employees: EmployeeService
    managers: ManagerService
    teams: TeamService
    clock: ManualClock

    def employee(
        self, name: str = "Ada", email: str = "ada@x.io", **kw: Any
    ) -> Employee:
        return self.employees.create(EmployeeDraft(name, email, **kw))

    def manager(
        self, name: str = "Grace", email: str = "grace@x.io", **kw: Any
    ) -> Manager:
        return self.managers.create(ManagerDraft(name, email, **kw))

    def all_employees(self) -> list[Employee]:
        return list(self.employees.list(EmployeeFilter(), 0, 500).items)

    def all_managers(self) -> list[Manager]:
        return list(self.managers.list(ManagerFilter(), 0, 500).items)


@pytest.fixture
def app(storage: UnitOfWorkFactory) -> App:
    clock = ManualClock()
    return App(
        EmployeeService(storage, clock),
        ManagerService(storage, clock),
        TeamService(storage, clock),
        clock,
    )


def only(*versions: int) -> Precondition:
    return Precondition(versions=frozenset(versions))


ANY = Precondition(any_version=True)


def fields_of(error: ValidationFailed) -> set[str]:
    return {e.field for e in error.errors}


# Creating employees.


def test_creating_an_employee_stores_it_normalised_at_version_1(app: App) -> None:
    created = app.employee("  Ada Lovelace ", "Ada@Example.COM", title="Engineer")
    assert created.id >= 1
    assert (created.name, created.email) == ("Ada Lovelace", "ada@example.com")
    assert (created.title, created.department, created.manager_id) == (
        "Engineer",
        None,
        None,
    )
    assert (created.version, created.created_at, created.updated_at) == (
        1,
        START,
        START,
    )
    assert app.employees.get(created.id) == created


def test_creating_an_employee_in_a_team_stores_the_relation(app: App) -> None:
    boss = app.manager()
    member = app.employee(manager_id=boss.id)
    assert member.manager_id == boss.id
    assert app.teams.members(boss.id, 0, 10).items == [member]


def test_an_email_used_by_another_employee_in_any_case_is_a_duplicate(
    app: App,
) -> None:
    first = app.employee(email="ada@x.io")
    with pytest.raises(DuplicateEmail):
        app.employee("Other", "ADA@X.IO")
    assert app.all_employees() == [first]


def test_an_employee_and_a_manager_may_share_an_email(app: App) -> None:
    app.manager(email="same@x.io")
    assert app.employee(email="SAME@x.io").email == "same@x.io"


def test_creating_an_employee_with_an_unknown_manager_names_manager_id(
    app: App,
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        app.employee(manager_id=4242)
    assert fields_of(caught.value) == {"manager_id"}
    assert app.all_employees() == []


@pytest.mark.parametrize("manager_id", [0, -5, MAX_ID + 1])
def test_a_manager_id_outside_the_id_range_is_a_validation_failure(
    app: App, manager_id: int
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        app.employee(manager_id=manager_id)
    assert fields_of(caught.value) == {"manager_id"}


def test_the_largest_id_is_an_unknown_manager_not_a_storage_error(app: App) -> None:
    with pytest.raises(ValidationFailed) as caught:
        app.employee(manager_id=MAX_ID)
    assert fields_of(caught.value) == {"manager_id"}


def test_invalid_fields_are_all_named_and_nothing_is_stored(app: App) -> None:
    with pytest.raises(ValidationFailed) as caught:
        app.employee(" ", "not-an-email", title="t" * 101, department="R\x00D")
    assert fields_of(caught.value) == {"name", "email", "title", "department"}
    assert app.all_employees() == []


def test_fields_at_their_limits_round_trip_through_storage(app: App) -> None:
    name, text = "\U0001f600" * 200, "\u00e9" * 100
    email = "a" * (254 - len("@example.com")) + "@example.com"
    created = app.employee(name, email, title=text, department=text)
    assert app.employees.get(created.id) == created
    assert (created.name, created.email, created.title) == (name, email, text)


# Replacing and patching employees.


def test_replacing_an_employee_sets_every_field_and_bumps_the_version(
    app: App,
) -> None:
    boss = app.manager()
    created = app.employee(title="Engineer", department="R&D", manager_id=boss.id)
    later = app.clock.advance(10)
    replaced = app.employees.replace(
        created.id, EmployeeDraft(" Ada L. ", "ADA.L@x.io"), None
    )
    assert (replaced.name, replaced.email) == ("Ada L.", "ada.l@x.io")
    assert (replaced.title, replaced.department, replaced.manager_id) == (
        None,
        None,
        None,
    )
    assert (replaced.version, replaced.created_at, replaced.updated_at) == (
        2,
        START,
        later,
    )
    assert app.employees.get(created.id) == replaced


def test_replacing_with_the_current_values_keeps_version_and_updated_at(
    app: App,
) -> None:
    created = app.employee("Ada", "ada@x.io", title="Engineer")
    app.clock.advance(10)
    same = EmployeeDraft("  Ada  ", "ADA@x.io", title="Engineer")
    assert app.employees.replace(created.id, same, None) == created
    assert app.employees.get(created.id) == created


def test_patching_changes_only_the_fields_sent(app: App) -> None:
    created = app.employee(title="Engineer", department="R&D")
    later = app.clock.advance(5)
    patched = app.employees.patch(created.id, {"department": "Ops"}, None)
    assert (patched.name, patched.email, patched.title) == (
        created.name,
        created.email,
        "Engineer",
    )
    assert (patched.department, patched.version, patched.updated_at) == (
        "Ops",
        2,
        later,
    )


def test_patching_null_clears_an_optional_field(app: App) -> None:
    created = app.employee(title="Engineer")
    patched = app.employees.patch(created.id, {"title": None}, None)
    assert (patched.title, patched.version) == (None, 2)


def test_an_empty_patch_changes_nothing(app: App) -> None:
    created = app.employee()
    app.clock.advance(5)
    assert app.employees.patch(created.id, {}, None) == created
    assert app.employees.get(created.id) == created


def test_a_patch_with_the_current_values_changes_nothing(app: App) -> None:
    created = app.employee("Ada", "ada@x.io", department="R&D")
    app.clock.advance(5)
    changes = {"name": " Ada ", "email": "ADA@X.IO", "department": "R&D"}
    assert app.employees.patch(created.id, changes, None) == created


def test_patching_invalid_values_is_refused_and_changes_nothing(app: App) -> None:
    created = app.employee()
    with pytest.raises(ValidationFailed) as caught:
        app.employees.patch(created.id, {"email": "nope", "name": ""}, None)
    assert fields_of(caught.value) == {"email", "name"}
    assert app.employees.get(created.id) == created


def test_patching_to_another_employees_email_is_a_duplicate(app: App) -> None:
    app.employee("Ada", "ada@x.io")
    bob = app.employee("Bob", "bob@x.io")
    with pytest.raises(DuplicateEmail):
        app.employees.patch(bob.id, {"email": "Ada@x.io"}, None)
    assert app.employees.get(bob.id) == bob


def test_an_email_freed_by_a_patch_can_be_used_again(app: App) -> None:
    ada = app.employee("Ada", "ada@x.io")
    app.employees.patch(ada.id, {"email": "countess@x.io"}, None)
    assert app.employee("New Ada", "ada@x.io").email == "ada@x.io"


def test_patching_an_unknown_manager_id_names_manager_id_and_changes_nothing(
    app: App,
) -> None:
    created = app.employee()
    with pytest.raises(ValidationFailed) as caught:
        app.employees.patch(created.id, {"manager_id": 999}, None)
    assert fields_of(caught.value) == {"manager_id"}
    assert app.employees.get(created.id) == created


def test_replacing_with_an_unknown_manager_id_names_manager_id(app: App) -> None:
    created = app.employee()
    draft = EmployeeDraft("Ada", "ada@x.io", manager_id=999)
    with pytest.raises(ValidationFailed) as caught:
        app.employees.replace(created.id, draft, None)
    assert fields_of(caught.value) == {"manager_id"}


def test_patching_manager_id_moves_an_employee_between_teams(app: App) -> None:
    first, second = app.manager("M1", "m1@x.io"), app.manager("M2", "m2@x.io")
    member = app.employee(manager_id=first.id)
    moved = app.employees.patch(member.id, {"manager_id": second.id}, None)
    assert (moved.manager_id, moved.version) == (second.id, 2)
    assert app.teams.members(first.id, 0, 10).items == []
    assert app.teams.members(second.id, 0, 10).items == [moved]


# Deleting employees and reading missing ones.


def test_a_deleted_employee_is_gone(app: App) -> None:
    created = app.employee()
    app.employees.delete(created.id, None)
    with pytest.raises(EmployeeNotFound):
        app.employees.get(created.id)
    with pytest.raises(EmployeeNotFound):
        app.employees.delete(created.id, None)
    assert app.employee(email=created.email).id != created.id


EMPLOYEE_CALLS: dict[str, Callable[[App, int], object]] = {
    "get": lambda app, i: app.employees.get(i),
    "replace": lambda app, i: app.employees.replace(
        i, EmployeeDraft("A", "a@x.io"), None
    ),
    "patch": lambda app, i: app.employees.patch(i, {"name": "A"}, None),
    "delete": lambda app, i: app.employees.delete(i, ANY),
}

MANAGER_CALLS: dict[str, Callable[[App, int], object]] = {
    "get": lambda app, i: app.managers.get(i),
    "replace": lambda app, i: app.managers.replace(
        i, ManagerDraft("A", "a@x.io"), None
    ),
    "patch": lambda app, i: app.managers.patch(i, {}, None),
    "delete": lambda app, i: app.managers.delete(i, ANY),
    "members": lambda app, i: app.teams.members(i, 0, 10),
}


@pytest.mark.parametrize("call", EMPLOYEE_CALLS.values(), ids=EMPLOYEE_CALLS.keys())
@pytest.mark.parametrize("record_id", [1, MAX_ID])
def test_any_use_of_a_missing_employee_is_employee_not_found(
    app: App, call: Callable[[App, int], object], record_id: int
) -> None:
    with pytest.raises(EmployeeNotFound) as caught:
        call(app, record_id)
    assert caught.value.record_id == record_id


@pytest.mark.parametrize("call", MANAGER_CALLS.values(), ids=MANAGER_CALLS.keys())
@pytest.mark.parametrize("record_id", [1, MAX_ID])
def test_any_use_of_a_missing_manager_is_manager_not_found(
    app: App, call: Callable[[App, int], object], record_id: int
) -> None:
    with pytest.raises(ManagerNotFound) as caught:
        call(app, record_id)
    assert caught.value.record_id == record_id


# Managers.


def test_creating_a_manager_stores_it_normalised_at_version_1(app: App) -> None:
    created = app.manager(" Grace Hopper ", "Grace@Navy.MIL", department="R&D")
    assert (created.name, created.email, created.department) == (
        "Grace Hopper",
        "grace@navy.mil",
        "R&D",
    )
    assert (created.version, created.created_at, created.updated_at) == (
        1,
        START,
        START,
    )
    assert app.managers.get(created.id) == created


def test_a_managers_email_is_unique_among_managers_in_any_case(app: App) -> None:
    first = app.manager(email="g@x.io")
    with pytest.raises(DuplicateEmail):
        app.manager("Other", "G@X.io")
    assert app.all_managers() == [first]


def test_replacing_a_manager_sets_every_field(app: App) -> None:
    created = app.manager(department="R&D")
    later = app.clock.advance(3)
    replaced = app.managers.replace(created.id, ManagerDraft("G", "g2@x.io"), None)
    assert (replaced.name, replaced.email, replaced.department) == (
        "G",
        "g2@x.io",
        None,
    )
    assert (replaced.version, replaced.updated_at) == (2, later)
    assert app.managers.get(created.id) == replaced


def test_a_manager_write_that_changes_nothing_keeps_version_and_updated_at(
    app: App,
) -> None:
    created = app.manager("Grace", "grace@x.io", department="R&D")
    app.clock.advance(3)
    same = ManagerDraft(" Grace", "GRACE@x.io", "R&D")
    assert app.managers.replace(created.id, same, None) == created
    assert app.managers.patch(created.id, {}, None) == created
    assert app.managers.patch(created.id, {"department": "R&D"}, None) == created


def test_patching_a_manager_to_a_taken_email_is_a_duplicate(app: App) -> None:
    app.manager("A", "a@x.io")
    b = app.manager("B", "b@x.io")
    with pytest.raises(DuplicateEmail):
        app.managers.patch(b.id, {"email": "A@x.io"}, None)
    assert app.managers.get(b.id) == b


def test_a_manager_without_employees_can_be_deleted(app: App) -> None:
    created = app.manager()
    app.managers.delete(created.id, None)
    with pytest.raises(ManagerNotFound):
        app.managers.get(created.id)


def test_a_manager_with_employees_cannot_be_deleted(app: App) -> None:
    boss = app.manager()
    member = app.employee(manager_id=boss.id)
    with pytest.raises(ManagerHasEmployees):
        app.managers.delete(boss.id, None)
    assert app.managers.get(boss.id) == boss
    assert app.employees.get(member.id) == member


def test_a_manager_can_be_deleted_once_the_team_has_left(app: App) -> None:
    boss = app.manager()
    member = app.employee(manager_id=boss.id)
    app.teams.leave(boss.id, member.id, None)
    app.managers.delete(boss.id, None)
    assert app.all_managers() == []
    assert app.employees.get(member.id).manager_id is None


# Teams.


def test_joining_a_team_sets_the_manager_and_bumps_the_version(app: App) -> None:
    boss, member = app.manager(), app.employee()
    later = app.clock.advance(7)
    joined = app.teams.join(boss.id, member.id, None)
    assert (joined.manager_id, joined.version, joined.updated_at) == (
        boss.id,
        2,
        later,
    )
    assert app.employees.get(member.id) == joined


def test_joining_the_same_team_again_changes_nothing(app: App) -> None:
    boss, member = app.manager(), app.employee()
    joined = app.teams.join(boss.id, member.id, None)
    app.clock.advance(7)
    assert app.teams.join(boss.id, member.id, None) == joined
    assert app.teams.join(boss.id, member.id, only(joined.version)) == joined
    assert app.employees.get(member.id) == joined


def test_already_member_answers_a_repeated_join_and_only_that(app: App) -> None:
    boss, other = app.manager("M1", "m1@x.io"), app.manager("M2", "m2@x.io")
    member = app.employee()
    assert app.teams.already_member(boss.id, member.id, None) is None
    joined = app.teams.join(boss.id, member.id, None)
    assert app.teams.already_member(boss.id, member.id, None) == joined
    assert app.teams.already_member(boss.id, member.id, only(2)) == joined
    assert app.teams.already_member(other.id, member.id, None) is None
    assert app.teams.already_member(boss.id, member.id + 1000, None) is None
    with pytest.raises(PreconditionFailed):
        app.teams.already_member(boss.id, member.id, only(1))


def test_joining_while_in_another_team_is_refused(app: App) -> None:
    first, second = app.manager("M1", "m1@x.io"), app.manager("M2", "m2@x.io")
    member = app.employee(manager_id=first.id)
    with pytest.raises(AlreadyInAnotherTeam):
        app.teams.join(second.id, member.id, None)
    assert app.employees.get(member.id) == member


def test_leaving_a_team_clears_the_manager_and_bumps_the_version(app: App) -> None:
    boss = app.manager()
    member = app.employee(manager_id=boss.id)
    later = app.clock.advance(2)
    left = app.teams.leave(boss.id, member.id, None)
    assert (left.manager_id, left.version, left.updated_at) == (None, 2, later)
    assert app.employees.get(member.id) == left


def test_leaving_a_team_one_is_not_in_is_not_in_team(app: App) -> None:
    first, second = app.manager("M1", "m1@x.io"), app.manager("M2", "m2@x.io")
    member = app.employee(manager_id=first.id)
    loner = app.employee("Lone", "lone@x.io")
    with pytest.raises(NotInTeam):
        app.teams.leave(second.id, member.id, None)
    with pytest.raises(NotInTeam):
        app.teams.leave(first.id, loner.id, None)
    assert app.employees.get(member.id) == member
    assert app.employees.get(loner.id) == loner


def test_not_in_team_is_a_kind_of_not_found(app: App) -> None:
    boss, loner = app.manager(), app.employee()
    with pytest.raises(NotFound):
        app.teams.leave(boss.id, loner.id, None)


@pytest.mark.parametrize("action", ["join", "leave"])
def test_joining_or_leaving_with_a_missing_party_is_not_found(
    app: App, action: str
) -> None:
    boss, member = app.manager(), app.employee()
    act = getattr(app.teams, action)
    with pytest.raises(EmployeeNotFound):
        act(boss.id, member.id + 100, None)
    with pytest.raises(ManagerNotFound):
        act(boss.id + 100, member.id, None)
    assert app.employees.get(member.id) == member


def test_a_team_lists_its_members_in_pages_by_id(app: App) -> None:
    boss, other = app.manager("M1", "m1@x.io"), app.manager("M2", "m2@x.io")
    members = [
        app.employee(f"E{i}", f"e{i}@x.io", manager_id=boss.id if i % 2 else other.id)
        for i in range(7)
    ]
    team = [m for m in members if m.manager_id == boss.id]
    first = app.teams.members(boss.id, 0, 2)
    assert (first.items, first.has_more) == (team[:2], True)
    last = app.teams.members(boss.id, team[1].id, 2)
    assert (last.items, last.has_more) == (team[2:], False)


def test_every_change_adds_one_to_the_version(app: App) -> None:
    boss = app.manager()
    e = app.employee()
    steps = [
        lambda: app.employees.patch(e.id, {"title": "Engineer"}, None),
        lambda: app.teams.join(boss.id, e.id, None),
        lambda: app.teams.leave(boss.id, e.id, None),
        lambda: app.employees.replace(e.id, EmployeeDraft("Ada", "new@x.io"), None),
        lambda: app.employees.patch(e.id, {"manager_id": boss.id}, None),
    ]
    for expected, step in enumerate(steps, start=2):
        assert step().version == expected
    assert app.employees.get(e.id).version == 6
    boss_v2 = app.managers.patch(boss.id, {"department": "Ops"}, None)
    assert boss_v2.version == 2


# Listing.


def test_a_listing_says_whether_more_records_follow(app: App) -> None:
    made = [app.manager(f"M{i}", f"m{i}@x.io") for i in range(5)]
    page = app.managers.list(ManagerFilter(), 0, 2)
    assert (page.items, page.has_more) == (made[:2], True)
    page = app.managers.list(ManagerFilter(), made[2].id, 2)
    assert (page.items, page.has_more) == (made[3:], False)
    assert app.managers.list(ManagerFilter(), made[4].id, 2).items == []


def test_a_listing_filters_by_q_with_case_folding(app: App) -> None:
    street = app.employee("Hauptstraße", "h@x.io")
    app.employee("Bob", "bob@x.io")
    page = app.employees.list(EmployeeFilter(q="STRASSE"), 0, 10)
    assert (page.items, page.has_more) == ([street], False)


# Preconditions.


def test_writes_with_a_matching_or_wildcard_precondition_proceed(app: App) -> None:
    e = app.employee()
    e = app.employees.patch(e.id, {"title": "T1"}, only(e.version))
    e = app.employees.patch(e.id, {"title": "T2"}, only(e.version - 1, e.version))
    e = app.employees.replace(e.id, EmployeeDraft("Ada", "ada@x.io"), ANY)
    assert e.version == 4
    app.employees.delete(e.id, only(4))
    assert app.all_employees() == []


STALE_WRITES: dict[str, Callable[[App, Employee, Manager], object]] = {
    "replace employee": lambda app, e, m: app.employees.replace(
        e.id, EmployeeDraft("X", "x@x.io"), only(e.version + 1)
    ),
    "patch employee": lambda app, e, m: app.employees.patch(
        e.id, {"name": "X"}, only(e.version + 1)
    ),
    "delete employee": lambda app, e, m: app.employees.delete(e.id, only(99)),
    "join": lambda app, e, m: app.teams.join(m.id, e.id, only(e.version + 1)),
    "leave": lambda app, e, m: app.teams.leave(m.id, e.id, only(e.version + 1)),
    "replace manager": lambda app, e, m: app.managers.replace(
        m.id, ManagerDraft("X", "x@x.io"), only(m.version + 1)
    ),
    "patch manager": lambda app, e, m: app.managers.patch(m.id, {"name": "X"}, only(7)),
    "empty precondition": lambda app, e, m: app.employees.patch(
        e.id, {"name": "X"}, Precondition()
    ),
}


@pytest.mark.parametrize("write", STALE_WRITES.values(), ids=STALE_WRITES.keys())
def test_a_stale_precondition_fails_and_changes_nothing(
    app: App, write: Callable[[App, Employee, Manager], object]
) -> None:
    boss = app.manager()
    member = app.employee(manager_id=boss.id)
    with pytest.raises(PreconditionFailed):
        write(app, member, boss)
    assert app.all_employees() == [member]
    assert app.all_managers() == [boss]


def test_a_stale_precondition_on_a_no_op_write_still_fails(app: App) -> None:
    e = app.employee()
    with pytest.raises(PreconditionFailed):
        app.employees.patch(e.id, {}, only(2))
    boss = app.manager()
    joined = app.teams.join(boss.id, e.id, None)
    with pytest.raises(PreconditionFailed):
        app.teams.join(boss.id, e.id, only(joined.version - 1))


def test_a_stale_precondition_wins_over_a_duplicate_email(app: App) -> None:
    app.employee("Ada", "ada@x.io")
    bob = app.employee("Bob", "bob@x.io")
    with pytest.raises(PreconditionFailed):
        app.employees.patch(bob.id, {"email": "ada@x.io"}, only(2))


def test_a_stale_precondition_wins_over_joining_another_team(app: App) -> None:
    first, second = app.manager("M1", "m1@x.io"), app.manager("M2", "m2@x.io")
    member = app.employee(manager_id=first.id)
    with pytest.raises(PreconditionFailed):
        app.teams.join(second.id, member.id, only(member.version + 1))


def test_a_stale_precondition_wins_over_a_manager_with_employees(app: App) -> None:
    boss = app.manager()
    app.employee(manager_id=boss.id)
    with pytest.raises(PreconditionFailed):
        app.managers.delete(boss.id, only(boss.version + 1))


def test_a_stale_precondition_wins_over_a_manager_email_conflict(app: App) -> None:
    app.manager("A", "a@x.io")
    b = app.manager("B", "b@x.io")
    with pytest.raises(PreconditionFailed):
        app.managers.replace(b.id, ManagerDraft("B", "a@x.io"), only(5))

"""The Storage port's contract (its repositories, units of work, health and
schema), run against every adapter: the `storage` fixture is each in turn.

The services hand repositories normalised records (trimmed names, lower-cased
emails), so the records built here are normalised too.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import psycopg2
import pytest

from domain.errors import (
    ConcurrentUpdate,
    Conflict,
    DuplicateEmail,
    ManagerHasEmployees,
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
    new_employee,
    new_manager,
)
from domain.ports import Lock, Storage, UnitOfWork, UnitOfWorkFactory
from tests.support import pgbouncer
from tests.support.polling import poll

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5, seconds=10)


def employee(
    name: str = "Ada",
    email: str = "ada@example.com",
    department: str | None = None,
    **extra: Any,
) -> Employee:
    return new_employee(EmployeeDraft(name, email, department=department, **extra), T0)


def manager(
    name: str = "Grace",
    email: str = "grace@example.com",
    department: str | None = None,
) -> Manager:
    return new_manager(ManagerDraft(name, email, department=department), T0)


def ids(records: Sequence[Employee | Manager]) -> list[int]:
    return [record.id for record in records]


class RepositoryContract:
    """What every Repository[R, F] promises; subclasses pick the port."""

    records: ClassVar[str]  # the UnitOfWork attribute: "employees" or "managers"
    make: Any  # builds an unstored record: make(name, email, department)
    everything: Any  # the filter that matches every record

    @pytest.fixture
    def store(self, storage: UnitOfWorkFactory) -> UnitOfWorkFactory:
        return storage

    def repo(self, unit: UnitOfWork) -> Any:
        return getattr(unit, self.records)

    def add(self, store: UnitOfWorkFactory, *records: Any) -> list[Any]:
        with store() as unit:
            stored = [self.repo(unit).add(record) for record in records]
            unit.commit()
        return stored

    def get(self, store: UnitOfWorkFactory, record_id: int) -> Any:
        with store(write=False) as unit:
            return self.repo(unit).get(record_id)

    def list(
        self, store: UnitOfWorkFactory, where: Any, after_id: int = 0, limit: int = 100
    ) -> Sequence[Any]:
        with store(write=False) as unit:
            return self.repo(unit).list(where, after_id, limit)

    def email_owner(self, store: UnitOfWorkFactory, email: str) -> int | None:
        """The id of the record that holds email, as a listing shows it."""
        records = self.list(store, self.everything, limit=1000)
        return next((r.id for r in records if r.email == email), None)

    def where(self, **fields: Any) -> Any:
        return dataclasses.replace(self.everything, **fields)

    # get and add

    def test_getting_an_absent_id_gives_none(self, store: UnitOfWorkFactory) -> None:
        assert self.get(store, 1) is None
        assert self.get(store, MAX_ID) is None

    def test_an_added_record_gets_a_positive_id_and_reads_back_equal(
        self, store: UnitOfWorkFactory
    ) -> None:
        unstored = self.make("Ada Lovelace", "ada@example.com", "R&D")
        (stored,) = self.add(store, unstored)
        assert stored.id >= 1
        assert stored == dataclasses.replace(unstored, id=stored.id)
        assert self.get(store, stored.id) == stored

    def test_ids_increase_with_every_add(self, store: UnitOfWorkFactory) -> None:
        first, second = self.add(
            store, self.make("A", "a@x.io"), self.make("B", "b@x.io")
        )
        (third,) = self.add(store, self.make("C", "c@x.io"))
        assert first.id < second.id < third.id

    def test_timestamps_read_back_as_the_same_utc_instants(
        self, store: UnitOfWorkFactory
    ) -> None:
        (stored,) = self.add(store, self.make("A", "a@x.io"))
        read = self.get(store, stored.id)
        assert (read.created_at, read.updated_at) == (T0, T0)
        assert read.created_at.utcoffset() == timedelta(0)

    def test_a_name_of_200_astral_code_points_round_trips(
        self, store: UnitOfWorkFactory
    ) -> None:
        name = "\U0001f600" * 200
        (stored,) = self.add(store, self.make(name, "smile@x.io", "\u00e9" * 100))
        assert self.get(store, stored.id).name == name

    def test_adding_a_second_record_with_the_same_email_raises_duplicate_email(
        self, store: UnitOfWorkFactory
    ) -> None:
        (first,) = self.add(store, self.make("A", "same@x.io"))
        with pytest.raises(DuplicateEmail), store() as unit:
            self.repo(unit).add(self.make("B", "same@x.io"))
        assert ids(self.list(store, self.everything)) == [first.id]

    def test_a_lone_add_is_stored_and_a_refused_one_leaves_nothing(
        self, store: UnitOfWorkFactory
    ) -> None:
        with store(alone=True) as unit:
            stored = self.repo(unit).add(self.make("A", "lone@x.io"))
            unit.commit()
        assert self.get(store, stored.id) == stored
        with pytest.raises(DuplicateEmail), store(alone=True) as unit:
            self.repo(unit).add(self.make("B", "lone@x.io"))
        assert ids(self.list(store, self.everything)) == [stored.id]

    # update

    def test_update_stores_new_values_at_the_expected_version(
        self, store: UnitOfWorkFactory
    ) -> None:
        (stored,) = self.add(store, self.make("A", "a@x.io"))
        changed = dataclasses.replace(
            stored, name="A2", department="Ops", version=2, updated_at=T1
        )
        with store() as unit:
            self.repo(unit).update(changed, expected_version=1)
            unit.commit()
        assert self.get(store, stored.id) == changed

    def test_update_at_a_stale_version_raises_and_changes_nothing(
        self, store: UnitOfWorkFactory
    ) -> None:
        (stored,) = self.add(store, self.make("A", "a@x.io"))
        changed = dataclasses.replace(stored, name="A2", version=3)
        with pytest.raises(ConcurrentUpdate), store() as unit:
            self.repo(unit).update(changed, expected_version=2)
        assert self.get(store, stored.id) == stored

    def test_update_of_an_absent_record_raises_concurrent_update(
        self, store: UnitOfWorkFactory
    ) -> None:
        ghost = dataclasses.replace(self.make("A", "a@x.io"), id=99, version=2)
        with pytest.raises(ConcurrentUpdate), store() as unit:
            self.repo(unit).update(ghost, expected_version=1)
        assert self.get(store, 99) is None

    def test_update_to_another_records_email_raises_duplicate_email(
        self, store: UnitOfWorkFactory
    ) -> None:
        _a, b = self.add(store, self.make("A", "a@x.io"), self.make("B", "b@x.io"))
        taken = dataclasses.replace(b, email="a@x.io", version=2)
        with pytest.raises(DuplicateEmail), store() as unit:
            self.repo(unit).update(taken, expected_version=1)
        assert self.get(store, b.id) == b

    def test_changing_an_email_frees_the_old_one(
        self, store: UnitOfWorkFactory
    ) -> None:
        (stored,) = self.add(store, self.make("A", "old@x.io"))
        with store() as unit:
            moved = dataclasses.replace(stored, email="new@x.io", version=2)
            self.repo(unit).update(moved, expected_version=1)
            unit.commit()
        assert self.email_owner(store, "old@x.io") is None
        assert self.email_owner(store, "new@x.io") == stored.id
        (other,) = self.add(store, self.make("B", "old@x.io"))
        assert other.id != stored.id

    # change: one step, no read before it

    def change(
        self,
        store: UnitOfWorkFactory,
        record_id: int,
        precondition: Precondition | None = None,
        **values: Any,
    ) -> Any:
        with store(alone=True) as unit:
            changed = self.repo(unit).change(record_id, values, precondition, T1)
            unit.commit()
        return changed

    def test_change_sets_the_fields_one_version_later_and_returns_the_record(
        self, store: UnitOfWorkFactory
    ) -> None:
        (stored,) = self.add(store, self.make("A", "a@x.io"))
        changed = self.change(store, stored.id, name="Zed", department="Ops")
        expected = dataclasses.replace(
            stored, name="Zed", department="Ops", version=2, updated_at=T1
        )
        assert changed == expected
        assert self.get(store, stored.id) == expected
        assert ids(self.list(store, self.where(q="zed"))) == [stored.id]
        assert self.list(store, self.where(q="a@")) == [expected]

    def test_change_to_the_current_values_writes_nothing(
        self, store: UnitOfWorkFactory
    ) -> None:
        (stored,) = self.add(store, self.make("A", "a@x.io", "Ops"))
        assert self.change(store, stored.id, name="A", department="Ops") is None
        assert self.get(store, stored.id) == stored

    def test_change_writes_only_at_a_version_the_precondition_allows(
        self, store: UnitOfWorkFactory
    ) -> None:
        (stored,) = self.add(store, self.make("A", "a@x.io"))
        stale = Precondition(versions=frozenset({2, 3}))
        assert self.change(store, stored.id, stale, name="B") is None
        assert self.get(store, stored.id) == stored
        assert self.change(store, stored.id, Precondition(), name="B") is None
        current = Precondition(versions=frozenset({1, 5}))
        assert self.change(store, stored.id, current, name="B").version == 2
        anything = Precondition(any_version=True)
        assert self.change(store, stored.id, anything, name="C").version == 3

    def test_change_of_an_absent_record_writes_nothing(
        self, store: UnitOfWorkFactory
    ) -> None:
        assert self.change(store, 99, name="B") is None
        assert self.get(store, 99) is None

    def test_change_to_another_records_email_raises_and_changes_nothing(
        self, store: UnitOfWorkFactory
    ) -> None:
        a, b = self.add(store, self.make("A", "a@x.io"), self.make("B", "b@x.io"))
        with pytest.raises(DuplicateEmail):
            self.change(store, b.id, email="a@x.io", name="B2")
        assert self.get(store, b.id) == b
        moved = self.change(store, a.id, email="c@x.io")
        assert moved.email == "c@x.io"
        assert self.change(store, b.id, email="a@x.io").email == "a@x.io"

    # delete

    def test_a_deleted_record_and_its_email_are_gone(
        self, store: UnitOfWorkFactory
    ) -> None:
        a, b = self.add(store, self.make("A", "a@x.io"), self.make("B", "b@x.io"))
        with store() as unit:
            self.repo(unit).delete(a.id)
            unit.commit()
        assert self.get(store, a.id) is None
        assert ids(self.list(store, self.everything)) == [b.id]
        assert self.email_owner(store, "a@x.io") is None

    def test_ids_are_not_reused_after_a_delete(self, store: UnitOfWorkFactory) -> None:
        _a, b = self.add(store, self.make("A", "a@x.io"), self.make("B", "b@x.io"))
        with store() as unit:
            self.repo(unit).delete(b.id)
            unit.commit()
        (c,) = self.add(store, self.make("C", "c@x.io"))
        assert c.id > b.id

    # list

    def test_list_orders_by_id_and_pages_after_an_id(
        self, store: UnitOfWorkFactory
    ) -> None:
        stored = self.add(store, *(self.make(f"N{i}", f"n{i}@x.io") for i in range(7)))
        every = ids(stored)
        assert ids(self.list(store, self.everything)) == every
        assert ids(self.list(store, self.everything, limit=3)) == every[:3]
        after = every[2]
        assert ids(self.list(store, self.everything, after, 3)) == every[3:6]
        assert ids(self.list(store, self.everything, every[5], 3)) == every[6:]
        assert self.list(store, self.everything, every[6], 3) == []

    def test_paging_after_a_deleted_id_neither_repeats_nor_skips(
        self, store: UnitOfWorkFactory
    ) -> None:
        every = ids(
            self.add(store, *(self.make(f"N{i}", f"n{i}@x.io") for i in range(5)))
        )
        with store() as unit:
            self.repo(unit).delete(every[2])
            unit.commit()
        assert ids(self.list(store, self.everything, every[2], 10)) == every[3:]

    def test_the_limit_counts_matching_records_only(
        self, store: UnitOfWorkFactory
    ) -> None:
        stored = self.add(
            store,
            *(
                self.make(f"N{i}", f"n{i}@x.io", "Ops" if i % 2 else "R&D")
                for i in range(8)
            ),
        )
        odd = [r.id for r in stored if r.department == "Ops"]
        assert ids(self.list(store, self.where(department="Ops"), 0, 3)) == odd[:3]
        page = self.list(store, self.where(department="Ops"), odd[2], 3)
        assert ids(page) == odd[3:]

    def test_department_filter_is_exact_and_case_sensitive(
        self, store: UnitOfWorkFactory
    ) -> None:
        rd, lower, *_ = self.add(
            store,
            self.make("A", "a@x.io", "R&D"),
            self.make("B", "b@x.io", "r&d"),
            self.make("C", "c@x.io", "Ops"),
            self.make("D", "d@x.io", None),
            self.make("E", "e@x.io", "R&D Labs"),
        )
        assert ids(self.list(store, self.where(department="R&D"))) == [rd.id]
        assert ids(self.list(store, self.where(department="r&d"))) == [lower.id]
        assert self.list(store, self.where(department="R")) == []

    def test_q_matches_a_substring_of_name_or_email_ignoring_case(
        self, store: UnitOfWorkFactory
    ) -> None:
        ada, bob, cyd = self.add(
            store,
            self.make("Ada Lovelace", "countess@x.io"),
            self.make("Bob", "lovelace.fan@x.io"),
            self.make("Cyd", "cyd@x.io"),
        )
        assert ids(self.list(store, self.where(q="LOVELACE"))) == [ada.id, bob.id]
        assert ids(self.list(store, self.where(q="countESS@"))) == [ada.id]
        assert ids(self.list(store, self.where(q="y"))) == [cyd.id]
        assert self.list(store, self.where(q="zz")) == []

    def test_q_uses_unicode_case_folding(self, store: UnitOfWorkFactory) -> None:
        strasse, sigma, _ = self.add(
            store,
            self.make("Hauptstraße", "h@x.io"),
            self.make("ΣΊΣΥΦΟΣ", "s@x.io"),
            self.make("Strand", "t@x.io"),
        )
        assert ids(self.list(store, self.where(q="STRASSE"))) == [strasse.id]
        assert ids(self.list(store, self.where(q="straße"))) == [strasse.id]
        assert ids(self.list(store, self.where(q="σίσυφος"))) == [sigma.id]

    def test_percent_and_underscore_in_q_are_literal(
        self, store: UnitOfWorkFactory
    ) -> None:
        percent, underscore, _ = self.add(
            store,
            self.make("100% Ada", "a@x.io"),
            self.make("Bob", "b_b@x.io"),
            self.make("100 Cyd", "cbb@x.io"),
        )
        assert ids(self.list(store, self.where(q="%"))) == [percent.id]
        assert ids(self.list(store, self.where(q="0% "))) == [percent.id]
        assert ids(self.list(store, self.where(q="_"))) == [underscore.id]
        assert ids(self.list(store, self.where(q="b_b"))) == [underscore.id]

    def test_q_follows_a_changed_name(self, store: UnitOfWorkFactory) -> None:
        (stored,) = self.add(store, self.make("Ada", "a@x.io"))
        with store() as unit:
            renamed = dataclasses.replace(stored, name="Grace", version=2)
            self.repo(unit).update(renamed, expected_version=1)
            unit.commit()
        assert self.list(store, self.where(q="ada")) == []
        assert ids(self.list(store, self.where(q="GRACE"))) == [stored.id]

    def test_filters_combine_and_page_together(self, store: UnitOfWorkFactory) -> None:
        stored = self.add(
            store,
            *(
                self.make(f"Ada {i}", f"a{i}@x.io", "R&D" if i % 3 else "Ops")
                for i in range(9)
            ),
            self.make("Bob", "bob@x.io", "R&D"),
        )
        wanted = [r.id for r in stored if r.department == "R&D" and "Ada" in r.name]
        where = self.where(department="R&D", q="ada")
        assert ids(self.list(store, where)) == wanted
        assert ids(self.list(store, where, wanted[1], 2)) == wanted[2:4]


class TestEmployeeRepository(RepositoryContract):
    records = "employees"
    make = staticmethod(employee)
    everything = EmployeeFilter()

    def test_an_employee_and_a_manager_may_share_an_email(
        self, store: UnitOfWorkFactory
    ) -> None:
        with store() as unit:
            unit.managers.add(manager(email="same@x.io"))
            stored = unit.employees.add(employee(email="same@x.io"))
            unit.commit()
        assert self.get(store, stored.id).email == "same@x.io"

    def test_an_employee_keeps_title_department_and_manager(
        self, store: UnitOfWorkFactory
    ) -> None:
        with store() as unit:
            boss = unit.managers.add(manager())
            stored = unit.employees.add(
                employee(title="Engineer", department="R&D", manager_id=boss.id)
            )
            unit.commit()
        read = self.get(store, stored.id)
        assert (read.title, read.department, read.manager_id) == (
            "Engineer",
            "R&D",
            boss.id,
        )

    def test_storing_an_employee_whose_manager_does_not_exist_is_refused(
        self, store: UnitOfWorkFactory
    ) -> None:
        with pytest.raises(Conflict), store() as unit:
            unit.employees.add(employee(manager_id=12345))
        assert self.list(store, self.everything) == []

    def test_manager_id_filter_lists_one_team(self, store: UnitOfWorkFactory) -> None:
        with store() as unit:
            m1 = unit.managers.add(manager("M1", "m1@x.io"))
            m2 = unit.managers.add(manager("M2", "m2@x.io"))
            staff = [
                unit.employees.add(employee(f"E{i}", f"e{i}@x.io", manager_id=m))
                for i, m in enumerate([m1.id, m2.id, None, m1.id, m1.id])
            ]
            unit.commit()
        team = [staff[0].id, staff[3].id, staff[4].id]
        assert ids(self.list(store, EmployeeFilter(manager_id=m1.id))) == team
        assert ids(self.list(store, EmployeeFilter(manager_id=m2.id))) == [staff[1].id]
        assert ids(self.list(store, EmployeeFilter(manager_id=m1.id), team[0], 1)) == [
            team[1]
        ]
        assert self.list(store, EmployeeFilter(manager_id=m2.id + 100)) == []
        both = EmployeeFilter(manager_id=m1.id, q="e4")
        assert ids(self.list(store, both)) == [staff[4].id]

    def test_has_manager_tells_whether_anyone_reports_to_a_manager(
        self, store: UnitOfWorkFactory
    ) -> None:
        with store() as unit:
            busy = unit.managers.add(manager("Busy", "busy@x.io"))
            idle = unit.managers.add(manager("Idle", "idle@x.io"))
            unit.employees.add(employee(manager_id=busy.id))
            unit.commit()
        with store(write=False) as unit:
            assert unit.employees.has_manager(busy.id)
            assert not unit.employees.has_manager(idle.id)
            assert not unit.employees.has_manager(MAX_ID)

    def test_has_manager_turns_false_when_the_last_member_leaves(
        self, store: UnitOfWorkFactory
    ) -> None:
        with store() as unit:
            boss = unit.managers.add(manager())
            member = unit.employees.add(employee(manager_id=boss.id))
            unit.commit()
        with store() as unit:
            left = dataclasses.replace(member, manager_id=None, version=2)
            unit.employees.update(left, expected_version=1)
            unit.commit()
        with store(write=False) as unit:
            assert not unit.employees.has_manager(boss.id)

    def test_locked_reads_inside_a_write_see_the_same_record(
        self, store: UnitOfWorkFactory
    ) -> None:
        (stored,) = self.add(store, employee())
        with store() as unit:
            for lock in Lock:
                assert unit.employees.get(stored.id, lock=lock) == stored


class TestManagerRepository(RepositoryContract):
    records = "managers"
    make = staticmethod(manager)
    everything = ManagerFilter()

    def test_deleting_a_manager_with_employees_raises_and_keeps_both(
        self, store: UnitOfWorkFactory
    ) -> None:
        with store() as unit:
            boss = unit.managers.add(manager())
            member = unit.employees.add(employee(manager_id=boss.id))
            unit.commit()
        with pytest.raises(ManagerHasEmployees), store() as unit:
            unit.managers.delete(boss.id)
        assert self.get(store, boss.id) == boss
        with store(write=False) as unit:
            assert unit.employees.get(member.id) == member

    def test_a_manager_whose_team_left_can_be_deleted(
        self, store: UnitOfWorkFactory
    ) -> None:
        with store() as unit:
            boss = unit.managers.add(manager())
            member = unit.employees.add(employee(manager_id=boss.id))
            unit.employees.delete(member.id)
            unit.managers.delete(boss.id)
            unit.commit()
        assert self.get(store, boss.id) is None


class TestUnitOfWork:
    """Every adapter's unit of work rolls back unless commit() is called."""

    def count(self, storage: UnitOfWorkFactory) -> tuple[int, int]:
        with storage(write=False) as unit:
            return (
                len(unit.managers.list(ManagerFilter(), 0, 100)),
                len(unit.employees.list(EmployeeFilter(), 0, 100)),
            )

    def test_changes_without_commit_are_rolled_back(
        self, storage: UnitOfWorkFactory
    ) -> None:
        with storage() as unit:
            boss = unit.managers.add(manager())
            unit.employees.add(employee(manager_id=boss.id))
            assert unit.managers.get(boss.id) == boss  # visible inside
        assert self.count(storage) == (0, 0)

    def test_changes_are_rolled_back_when_the_block_raises(
        self, storage: UnitOfWorkFactory
    ) -> None:
        with pytest.raises(RuntimeError), storage() as unit:
            unit.managers.add(manager())
            raise RuntimeError("boom")
        assert self.count(storage) == (0, 0)

    def test_committed_changes_are_kept(self, storage: UnitOfWorkFactory) -> None:
        with storage() as unit:
            boss = unit.managers.add(manager())
            unit.employees.add(employee(manager_id=boss.id))
            unit.commit()
        assert self.count(storage) == (1, 1)

    def test_updates_and_deletes_without_commit_are_undone(
        self, storage: UnitOfWorkFactory
    ) -> None:
        with storage() as unit:
            keep = unit.managers.add(manager("Keep", "keep@x.io"))
            gone = unit.managers.add(manager("Gone", "gone@x.io"))
            unit.commit()
        with storage() as unit:
            changed = dataclasses.replace(keep, email="new@x.io", version=2)
            unit.managers.update(changed, expected_version=1)
            unit.managers.delete(gone.id)
        with storage(write=False) as unit:
            assert unit.managers.get(keep.id) == keep
            assert unit.managers.get(gone.id) == gone
        # The undone update freed nothing: its new email is free, the old taken.
        with storage(alone=True) as unit:
            unit.managers.add(manager("New", "new@x.io"))
        with pytest.raises(DuplicateEmail), storage(alone=True) as unit:
            unit.managers.add(manager("Again", "keep@x.io"))

    def test_a_failed_write_rolls_back_the_whole_unit(
        self, storage: UnitOfWorkFactory
    ) -> None:
        with storage() as unit:
            unit.managers.add(manager(email="taken@x.io"))
            unit.commit()
        with pytest.raises(DuplicateEmail), storage() as unit:
            unit.managers.add(manager("First", "fresh@x.io"))
            unit.managers.add(manager("Second", "taken@x.io"))
        assert self.count(storage) == (1, 0)
        with storage(alone=True) as unit:  # the rolled-back add left no claim
            unit.managers.add(manager("Fresh", "fresh@x.io"))


class TestStorage:
    """The port's own duties besides units of work: health, schema, release."""

    def test_a_store_that_answers_reports_healthy(self, storage: Storage) -> None:
        assert storage.ping() is True

    def test_migrating_an_up_to_date_store_applies_nothing(
        self, storage: Storage
    ) -> None:
        assert storage.migrate() == []
        with storage() as unit:
            unit.managers.add(manager())
            unit.commit()
        assert TestUnitOfWork().count(storage) == (1, 0)

    def test_closing_returns_every_postgres_connection(
        self, postgres_storage: Storage, postgres_url: str
    ) -> None:
        with postgres_storage(write=False) as unit:
            unit.managers.get(1)
        assert sessions_on(postgres_url) == 1  # kept in the pool for reuse
        postgres_storage.close()
        # A backend leaves pg_stat_activity a moment after its client closes.
        poll(
            lambda: sessions_on(postgres_url) == 0,
            within=5,
            what="the pool's sessions to end",
        )


def sessions_on(url: str) -> int:
    """Sessions other than this query's own, and other than the test
    PgBouncer's, on the database at url."""
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND application_name <> %s",
            (pgbouncer.APPLICATION,),
        )
        (count,) = cursor.fetchone()
    return int(count)

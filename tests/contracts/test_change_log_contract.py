"""The ChangeLog port's contract, run against every storage adapter (memory,
SQLite, PostgreSQL, PostgreSQL through PgBouncer): every write path records
its change in the same unit of work, and nothing else does."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import (
    AlreadyInAnotherTeam,
    ChangesExpired,
    DuplicateEmail,
    ManagerHasEmployees,
    PreconditionFailed,
)
from domain.feed import Action, Change, Resource
from domain.model import EmployeeDraft, ManagerDraft, Precondition
from domain.ports import Storage
from domain.services import ChangeFeed, EmployeeService, ManagerService, TeamService
from tests.support.clocks import ManualClock


class World:
    def __init__(self, storage: Storage) -> None:
        self.clock = ManualClock()
        self.storage = storage
        self.employees = EmployeeService(storage, self.clock)
        self.managers = ManagerService(storage, self.clock)
        self.teams = TeamService(storage, self.clock)
        self.feed = ChangeFeed(storage, self.clock)

    def changes(self, resource: Resource | None = None) -> list[Change]:
        return list(self.feed.page(None, 1000, resource).changes)

    def tick(self) -> None:
        self.clock.advance(1.5)


@pytest.fixture
def world(storage: Storage) -> World:
    return World(storage)


def test_a_records_life_is_created_updated_thrice_then_deleted(world: World) -> None:
    boss = world.managers.create(ManagerDraft("Grace", "grace@example.com"))
    seen = []
    ada = world.employees.create(EmployeeDraft("Ada", "ada@example.com"))
    seen.append(world.employees.get(ada.id))
    world.tick()
    world.employees.patch(ada.id, {"title": "Engineer"}, None)
    seen.append(world.employees.get(ada.id))
    world.tick()
    world.teams.join(boss.id, ada.id, None)
    seen.append(world.employees.get(ada.id))
    world.tick()
    world.teams.leave(boss.id, ada.id, None)
    seen.append(world.employees.get(ada.id))
    world.tick()
    world.employees.delete(ada.id, None)

    mine = [c for c in world.changes(Resource.EMPLOYEE) if c.record_id == ada.id]
    assert [c.action for c in mine] == [Action.CREATED] + [Action.UPDATED] * 3 + [
        Action.DELETED
    ]
    assert [c.version for c in mine] == [1, 2, 3, 4, 4]
    assert [c.record for c in mine] == [*seen, None]
    assert [c.at for c in mine[:4]] == [r.updated_at for r in seen]
    assert all(c.resource is Resource.EMPLOYEE for c in mine)
    (created,) = world.changes(Resource.MANAGER)
    assert (created.record, created.action, created.version) == (
        boss,
        Action.CREATED,
        1,
    )


def test_positions_strictly_increase_and_pages_resume_where_they_ended(
    world: World,
) -> None:
    for i in range(7):
        world.managers.create(ManagerDraft(f"M{i}", f"m{i}@example.com"))
    everything = world.changes()
    positions = [c.position for c in everything]
    assert positions == sorted(set(positions))
    got: list[Change] = []
    after = None
    while True:
        page = world.feed.page(after, 3, None)
        got += page.changes
        if not page.changes:
            break
        after = page.next
    assert got == everything
    assert page.next == after  # nothing new: the cursor stays where it is


def test_a_write_that_changes_nothing_or_is_refused_leaves_no_change(
    world: World,
) -> None:
    boss = world.managers.create(ManagerDraft("Grace", "grace@example.com"))
    other = world.managers.create(ManagerDraft("Alan", "alan@example.com"))
    ada = world.employees.create(EmployeeDraft("Ada", "ada@example.com"))
    world.employees.create(EmployeeDraft("Bob", "bob@example.com"))
    world.teams.join(boss.id, ada.id, None)
    before = world.changes()

    world.teams.join(boss.id, ada.id, None)  # already a member
    world.employees.patch(ada.id, {"name": "Ada"}, None)  # the same value
    world.employees.replace(
        ada.id, EmployeeDraft("Ada", "ada@example.com", manager_id=boss.id), None
    )
    refused = [
        lambda: world.teams.join(other.id, ada.id, None),
        lambda: world.employees.patch(ada.id, {"title": "X"}, Precondition({99})),
        lambda: world.employees.create(EmployeeDraft("Dup", "ADA@example.com")),
        lambda: world.managers.delete(boss.id, None),
        lambda: world.employees.patch(ada.id, {"email": "bob@example.com"}, None),
    ]
    for attempt in refused:
        with pytest.raises(
            (
                AlreadyInAnotherTeam,
                PreconditionFailed,
                DuplicateEmail,
                ManagerHasEmployees,
            )
        ):
            attempt()
    assert world.changes() == before


def test_the_resource_filter_keeps_one_kind_and_skips_to_the_end(world: World) -> None:
    world.managers.create(ManagerDraft("Grace", "grace@example.com"))
    world.employees.create(EmployeeDraft("Ada", "ada@example.com"))
    world.managers.create(ManagerDraft("Alan", "alan@example.com"))
    page = world.feed.page(None, 10, Resource.EMPLOYEE)
    assert [c.record_id for c in page.changes] == [1]
    assert page.next >= world.changes()[-1].position
    assert world.feed.page(page.next, 10, None).changes == []


def test_the_head_is_past_every_change_so_far_and_before_every_later_one(
    world: World,
) -> None:
    world.managers.create(ManagerDraft("Grace", "grace@example.com"))
    head = world.feed.head()
    assert world.feed.page(head, 10, None).changes == []
    later = world.managers.create(ManagerDraft("Alan", "alan@example.com"))
    (change,) = world.feed.page(head, 10, None).changes
    assert change.record == later


def test_pruning_removes_the_oldest_and_a_cursor_behind_it_expires(
    world: World,
) -> None:
    first = world.managers.create(ManagerDraft("Old", "old@example.com"))
    world.clock.advance(3600)
    world.managers.create(ManagerDraft("New", "new@example.com"))
    start = world.changes()[0].position
    before_all = world.feed.page(None, 1, None).next  # what a reader of one got
    assert before_all == start

    removed = world.feed.prune("me", 10, timedelta(minutes=30), batch=100)
    assert removed == 1
    (kept,) = world.changes()
    assert kept.record is not None and kept.record.id != first.id
    with pytest.raises(ChangesExpired):
        world.feed.page((0, 0), 10, None)
    assert world.feed.page(start, 10, None).changes == [kept]  # at the edge: fine


def test_pruning_goes_in_batches_and_stops_at_the_first_recent_change(
    world: World,
) -> None:
    for i in range(5):
        world.managers.create(ManagerDraft(f"M{i}", f"m{i}@example.com"))
    world.clock.advance(3600)
    world.managers.create(ManagerDraft("New", "new@example.com"))
    assert world.feed.prune("me", 10, timedelta(minutes=30), batch=2) == 5
    assert len(world.changes()) == 1


def test_one_holder_at_a_time_runs_a_task(world: World) -> None:
    assert world.feed.prune("a", 30, timedelta(days=7), batch=10) == 0
    assert world.feed.prune("b", 30, timedelta(days=7), batch=10) is None
    assert world.feed.prune("a", 30, timedelta(days=7), batch=10) == 0


def test_the_sweep_starts_at_the_oldest_change_then_hands_over_each_once(
    world: World,
) -> None:
    """A first run starts at the oldest change kept: a write committed
    before any sweep ran, whose process died before invalidating it, is
    invalidated too (tests/faults/test_crash_window.py missed it once when
    the first run started at the end)."""
    before = world.managers.create(ManagerDraft("Before", "before@example.com"))
    applied: list[Change] = []
    assert world.feed.follow("a", 30, 100, applied.extend) == 1
    after = world.managers.create(ManagerDraft("After", "after@example.com"))
    assert world.feed.follow("b", 30, 100, applied.extend) is None  # a holds it
    assert world.feed.follow("a", 30, 100, applied.extend) == 1
    assert world.feed.follow("a", 30, 100, applied.extend) == 0
    assert [(c.resource, c.record_id) for c in applied] == [
        ("manager", before.id), ("manager", after.id),
    ]  # fmt: skip


def test_a_failed_sweep_step_is_given_the_same_changes_again(world: World) -> None:
    world.feed.follow("a", 30, 100, lambda changes: None)
    world.managers.create(ManagerDraft("Grace", "grace@example.com"))

    def fail(changes: object) -> None:
        raise RuntimeError("the cache did not answer")

    with pytest.raises(RuntimeError):
        world.feed.follow("a", 30, 100, fail)
    applied: list[Change] = []
    assert world.feed.follow("a", 30, 100, applied.extend) == 1

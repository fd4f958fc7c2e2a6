"""The change feed's upkeep in a process (FeedKeeper), over the memory store
and the memory cache: the sweep keeps up with any write rate, and what it
invalidates is what the changes made stale."""

from __future__ import annotations

from adapters.memory.cache import MemoryCache
from adapters.memory.storage import MemoryStorage
from domain.model import EmployeeDraft, ManagerDraft
from domain.services import ChangeFeed, EmployeeService, ManagerService
from entrypoints.http.feed_keeper import SWEEP_BATCH, FeedKeeper, dependencies_of
from entrypoints.http.metrics import Metrics
from tests.support.clocks import ManualClock


def test_one_tick_sweeps_pages_back_to_back_until_it_has_caught_up() -> None:
    storage, clock, metrics = MemoryStorage(), ManualClock(), Metrics()
    keeper = FeedKeeper(ChangeFeed(storage, clock), MemoryCache(60), 86400, metrics)
    assert keeper.sweep_once() == 0  # nothing written yet
    managers = ManagerService(storage, clock)
    count = 2 * SWEEP_BATCH + 500
    managers.create_many([ManagerDraft(f"M{i}", f"m{i}@x.io") for i in range(count)])
    assert keeper.sweep_once() == count
    assert keeper.sweep_once() == 0
    swept = metrics.registry.get_sample_value(
        "change_feed_changes_total", {"task": "sweep"}
    )
    assert swept == count


def test_another_holder_waits_its_turn() -> None:
    storage, clock = MemoryStorage(), ManualClock()
    feed = ChangeFeed(storage, clock)
    first = FeedKeeper(feed, MemoryCache(60), 86400, Metrics())
    second = FeedKeeper(feed, MemoryCache(60), 86400, Metrics())
    assert first.sweep_once() == 0
    assert second.sweep_once() is None


def test_a_change_makes_its_record_and_its_collection_stale() -> None:
    storage, clock = MemoryStorage(), ManualClock()
    feed = ChangeFeed(storage, clock)
    EmployeeService(storage, clock).create(EmployeeDraft("Ada", "ada@x.io"))
    ManagerService(storage, clock).create(ManagerDraft("Grace", "grace@x.io"))
    changes = feed.page(None, 10, None).changes
    assert dependencies_of(changes) == [
        "employee:1",
        "employees",
        "manager:1",
        "managers",
    ]

"""The change feed never skips a change on PostgreSQL, directly and through
PgBouncer: a sequence value is taken before commit, so a reader at
`id > last` misses a row that commits late; the feed reads only below the
oldest running transaction instead.

FEED_PROOF_READER=naive runs the concurrent proof with an `id > cursor`
reader, to see it fail.
"""

from __future__ import annotations

import dataclasses
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest

from adapters.clock import SystemClock
from adapters.sql.database import open_database
from adapters.sql.storage import SqlStorage
from domain.errors import DomainError
from domain.feed import Action, Change, ChangePage, FeedPosition, Resource
from domain.model import EmployeeDraft, ManagerDraft, new_employee, revise
from domain.ports import Lock
from domain.services import ChangeFeed, EmployeeService, ManagerService
from settings import PoolSettings
from tests.support.clocks import START
from tests.support.polling import poll

pytestmark = pytest.mark.postgres

WRITERS_PER_INSTANCE = 7  # two instances: 14 writer threads
SECONDS = 4.0
Key = tuple[str, int, int]  # resource, id, version


class Rollback(Exception):
    """Raised on purpose inside a unit of work, to roll it back."""


@dataclasses.dataclass
class Instance:
    storage: SqlStorage
    employees: EmployeeService
    managers: ManagerService


@pytest.fixture
def instances(
    postgres_storage: SqlStorage, any_postgres_url: str
) -> Iterator[list[Instance]]:
    """Two instances (each its own pool) on one database, emptied first."""
    made = []
    for _ in range(2):
        db = open_database(any_postgres_url, PoolSettings(max_connections=12))
        storage, clock = SqlStorage(db), SystemClock()
        made.append(
            Instance(
                storage, EmployeeService(storage, clock), ManagerService(storage, clock)
            )
        )
    yield made
    for instance in made:
        instance.storage.close()


def naive_page(
    storage: SqlStorage, after: FeedPosition | None, limit: int
) -> ChangePage:
    """What the feed must not be: rows past the last id seen, by id."""
    last = after[1] if after else 0
    with storage(write=False):
        rows = storage.db.execute_sql(
            "SELECT id, resource, record_id, version FROM change WHERE id > %s "
            "ORDER BY id LIMIT %s",
            (last, limit),
        ).fetchall()
    changes = [
        Change((0, i), Resource(r), rid, Action.UPDATED, v, START, None)
        for i, r, rid, v in rows
    ]
    return ChangePage(changes, (0, rows[-1][0]) if rows else (after or (0, 0)))


class Writers:
    def __init__(self, instances: list[Instance]) -> None:
        self.instances = instances
        self.acknowledged: list[Key] = []
        self.lock = threading.Lock()
        self.ids: list[int] = []
        self.stop = threading.Event()
        self.errors: list[BaseException] = []

    def ack(self, resource: str, record_id: int, version: int) -> None:
        with self.lock:
            self.acknowledged.append((resource, record_id, version))
            if resource == "employee" and version == 1:
                self.ids.append(record_id)

    def run(self, instance: Instance, seed: int) -> None:
        rng = random.Random(seed)
        n = 0
        try:
            while not self.stop.is_set():
                n += 1
                self.step(instance, rng, f"{seed}-{n}")
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)

    def step(self, instance: Instance, rng: random.Random, tag: str) -> None:
        roll = rng.random()
        with self.lock:
            target = rng.choice(self.ids) if self.ids else None
        if roll < 0.3 or target is None:
            created = instance.employees.create(
                EmployeeDraft(tag, f"{tag}@example.com")
            )
            self.ack("employee", created.id, 1)
        elif roll < 0.4:
            manager = instance.managers.create(ManagerDraft(tag, f"m{tag}@example.com"))
            self.ack("manager", manager.id, 1)
        elif roll < 0.7:
            try:
                patched = instance.employees.patch(target, {"title": tag}, None)
            except DomainError:
                return
            self.ack("employee", patched.id, patched.version)
        else:
            self.held(instance, rng, target, tag, rollback=roll > 0.93)

    def held(
        self,
        instance: Instance,
        rng: random.Random,
        target: int,
        tag: str,
        rollback: bool,
    ) -> None:
        """A transaction that writes, then stays open on purpose before it
        commits (or rolls back): its change row's id is taken long before
        its commit, as a slow request's would be."""
        try:
            with instance.storage() as uow:
                if rng.random() < 0.5:
                    current = uow.employees.get(target, lock=Lock.UPDATE)
                    if current is None:
                        return
                    draft = EmployeeDraft(current.name, current.email, title=tag)
                    record = revise(current, draft, SystemClock().now())
                    uow.employees.update(record, expected_version=current.version)
                else:
                    draft = EmployeeDraft(tag, f"h{tag}@example.com")
                    record = uow.employees.add(new_employee(draft, SystemClock().now()))
                time.sleep(
                    rng.uniform(0.005, 0.15)
                )  # held open, not a wait for anything
                if rollback:
                    raise Rollback()
                uow.commit()
        except Rollback:
            return
        self.ack("employee", record.id, record.version)


def test_a_reader_following_the_feed_reads_every_acknowledged_change_once(
    instances: list[Instance],
) -> None:
    writers = Writers(instances)
    reader_storage = instances[0].storage
    feed = ChangeFeed(reader_storage, SystemClock())
    naive = os.environ.get("FEED_PROOF_READER") == "naive"
    read: list[Key] = []
    after: FeedPosition | None = None
    threads = [
        threading.Thread(target=writers.run, args=(instance, i * 100 + n))
        for i, instance in enumerate(instances)
        for n in range(WRITERS_PER_INSTANCE)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + SECONDS
    pages = 0
    while True:
        done = time.monotonic() > deadline
        if done and not writers.stop.is_set():
            writers.stop.set()
            for thread in threads:
                thread.join(timeout=60)
            done = False  # read once more after the last commit
        page = (
            naive_page(reader_storage, after, 50)
            if naive
            else feed.page(after, 50, None)
        )
        pages += 1
        read += [(c.resource.value, c.record_id, c.version) for c in page.changes]
        after = page.next
        if writers.stop.is_set() and not page.changes and done:
            break
        if writers.stop.is_set() and not page.changes:
            done = True
    assert not writers.errors, writers.errors
    counts = Counter(read)
    twice = [key for key, n in counts.items() if n > 1]
    missed = set(writers.acknowledged) - set(read)
    unacknowledged = set(read) - set(writers.acknowledged)
    print(
        f"\n{len(writers.acknowledged)} acknowledged changes by "
        f"{len(threads)} writers on 2 instances, {pages} pages read: "
        f"{len(missed)} missed, {len(twice)} read twice"
    )
    assert not missed, f"{len(missed)} acknowledged changes never read"
    assert not twice
    assert not unacknowledged  # rolled back writes never appear
    versions: dict[tuple[str, int], list[int]] = {}
    for resource, record_id, version in read:
        versions.setdefault((resource, record_id), []).append(version)
    assert all(v == sorted(v) and v[0] == 1 for v in versions.values())
    assert len(writers.acknowledged) > 500  # the run really was busy


def _insert_employee(connection: Any, email: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO employee (name, email, search_name, search_email, version, "
            "created_at, updated_at) VALUES (%s, %s, %s, %s, 1, now(), now())",
            (email, email, email, email),
        )


def test_a_change_that_commits_late_is_read_after_all_where_id_order_skips_it(
    instances: list[Instance], any_postgres_url: str
) -> None:
    storage = instances[0].storage
    feed = ChangeFeed(storage, SystemClock())
    slow = psycopg2.connect(any_postgres_url)
    quick = psycopg2.connect(any_postgres_url)
    try:
        _insert_employee(slow, "slow@example.com")  # its change takes id 1, open
        _insert_employee(quick, "quick@example.com")  # id 2
        quick.commit()
        naive_first = naive_page(storage, None, 10)
        feed_first = feed.page(None, 10, None)
        slow.commit()
        naive_then = naive_page(storage, naive_first.next, 10)
        feed_then = feed.page(feed_first.next, 10, None)
    finally:
        slow.close()
        quick.close()
    naive_ids = [c.record_id for c in [*naive_first.changes, *naive_then.changes]]
    assert naive_ids == [2]  # id 1 committed behind the cursor: skipped
    assert feed_first.changes == []  # nothing is handed out past the open one
    assert sorted(c.record_id for c in feed_then.changes) == [1, 2]


def test_a_transaction_of_ours_left_idle_holds_the_feed_back_a_second_at_most(
    instances: list[Instance],
) -> None:
    storage, other = instances[0].storage, instances[1]
    feed = ChangeFeed(storage, SystemClock())
    start = feed.head()
    written, release = threading.Event(), threading.Event()
    outcome: list[BaseException | None] = []

    def idle_writer() -> None:
        try:
            with storage() as uow:
                uow.employees.add(
                    new_employee(EmployeeDraft("Idle", "idle@x.io"), START)
                )
                written.set()
                release.wait(timeout=30)  # idle in its transaction meanwhile
                uow.commit()
            outcome.append(None)
        except BaseException as exc:  # the server ended it: expected
            outcome.append(exc)

    thread = threading.Thread(target=idle_writer)
    thread.start()
    assert written.wait(timeout=10)
    later = other.employees.create(EmployeeDraft("Later", "later@x.io"))
    began = time.monotonic()
    seen = poll(
        lambda: [
            c for c in feed.page(start, 10, None).changes if c.record_id == later.id
        ],
        within=5,
        what="the later change, past the idle transaction",
    )
    waited = time.monotonic() - began
    release.set()
    thread.join(timeout=30)
    print(f"\nthe idle transaction held the feed back {waited:.2f} s")
    assert seen and waited < 2.0
    assert isinstance(outcome[0], DomainError)  # its session was ended
    assert [c.record_id for c in feed.page(start, 10, None).changes] == [later.id]

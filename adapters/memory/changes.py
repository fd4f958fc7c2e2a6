"""The change feed in memory: the twin of the SQL `change` table. A unit of
work's changes join the feed when it commits, under the store's lock, so
the feed's order is commit order."""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from domain.feed import (
    Action,
    Change,
    ChangePage,
    FeedPosition,
    Resource,
    later,
)
from domain.model import Employee, Manager


@dataclass
class _Task:
    holder: str | None = None
    until: float = 0.0
    position: FeedPosition | None = None


@dataclass
class MemoryFeed:
    changes: list[Change] = field(default_factory=list)
    last_id: int = 0
    tasks: dict[str, _Task] = field(
        default_factory=lambda: {"sweep": _Task(), "prune": _Task()}
    )

    def append(self, pending: list[Change]) -> None:
        for change in pending:
            self.last_id += 1
            self.changes.append(_placed(change, (0, self.last_id)))


def _placed(change: Change, position: FeedPosition) -> Change:
    return Change(
        position,
        change.resource,
        change.record_id,
        change.action,
        change.version,
        change.at,
        change.record,
    )


def pending_change(
    action: Action, record: Employee | Manager, at: datetime | None = None
) -> Change:
    """A change not yet in the feed (its position comes on commit)."""
    resource = Resource.EMPLOYEE if isinstance(record, Employee) else Resource.MANAGER
    deleted = action is Action.DELETED
    return Change(
        (0, 0),
        resource,
        record.id,
        action,
        record.version,
        at or (datetime.now(UTC) if deleted else record.updated_at),
        None if deleted else record,
    )


class MemoryChangeLog:
    def __init__(self, feed: MemoryFeed) -> None:
        self._feed = feed

    def read(
        self,
        after: FeedPosition | None,
        limit: int,
        resource: Resource | None,
        with_records: bool = True,  # in memory they cost nothing to give
    ) -> ChangePage:
        changes = self._feed.changes
        start = 0 if after is None else bisect.bisect_right(
            changes, after, key=lambda c: c.position
        )  # fmt: skip
        found: list[Change] = []
        for change in changes[start:]:
            if len(found) == limit:
                return ChangePage(found, found[-1].position)
            if resource is None or change.resource is resource:
                found.append(change)
        last = found[-1].position if found else None
        return ChangePage(found, later(after, last, self.head()))

    def head(self) -> FeedPosition:
        return (0, self._feed.last_id)

    def pruned_through(self) -> FeedPosition | None:
        return self._feed.tasks["prune"].position

    def prune(self, before: datetime, limit: int) -> int:
        changes = self._feed.changes
        count = 0
        while count < min(limit, len(changes)) and changes[count].at < before:
            count += 1
        if count:
            self._feed.tasks["prune"].position = changes[count - 1].position
            del changes[:count]
        return count

    def claim(self, task: str, holder: str, seconds: float) -> bool:
        state = self._feed.tasks[task]
        now = time.monotonic()
        if state.holder not in (None, holder) and state.until >= now:
            return False
        state.holder, state.until = holder, now + seconds
        return True

    def task_position(self, task: str) -> FeedPosition | None:
        return self._feed.tasks[task].position

    def advance(self, task: str, holder: str, position: FeedPosition) -> bool:
        state = self._feed.tasks[task]
        if state.holder != holder:
            return False
        state.position = position
        return True

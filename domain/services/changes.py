"""The change feed: read it, and keep it (follow it, prune it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from domain.errors import ChangesExpired
from domain.feed import Change, ChangePage, FeedPosition, Resource
from domain.ports import Clock, UnitOfWorkFactory

SWEEP = "sweep"
PRUNE = "prune"


class ChangeFeed:
    """Every committed change of the records, once, in order."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def page(
        self, after: FeedPosition | None, limit: int, resource: Resource | None
    ) -> ChangePage:
        """Up to limit changes after `after` (None: from the oldest kept);
        ChangesExpired when changes after it were pruned."""
        with self._uow(write=False) as uow:
            page = uow.changes.read(after, limit, resource)
            # Asked after the read: a prune that ran before it shows here.
            pruned = uow.changes.pruned_through()
        if after is not None and pruned is not None and after < pruned:
            raise ChangesExpired()
        return page

    def head(self) -> FeedPosition:
        """The feed's end now: following from here misses nothing later."""
        with self._uow(write=False) as uow:
            return uow.changes.head()

    def follow(
        self,
        holder: str,
        lease_seconds: float,
        limit: int,
        apply: Callable[[Sequence[Change]], None],
    ) -> int | None:
        """One step of the sweep, if holder holds it: the next changes after
        where the sweep got to, given to apply, then recorded as done. How
        many were applied; None when another process holds the sweep. A
        first run, and a sweep left behind the retention, start at the
        oldest change kept: a write committed before any sweep ran, by a
        process that died before invalidating it, is still invalidated (the
        feed starts empty with its migration, so a first run has little to
        do). When apply raises, nothing is recorded: the next step applies
        the same changes again."""
        if not self._claim(SWEEP, holder, lease_seconds):
            return None
        with self._uow(write=False) as uow:
            reached = uow.changes.task_position(SWEEP)
            marks = [
                m for m in (reached, uow.changes.pruned_through()) if m is not None
            ]
            start = max(marks, default=None)
            page = uow.changes.read(start, limit, None, with_records=False)
        if page.changes:
            apply(page.changes)
        if page.next != reached:
            with self._uow(alone=True) as uow:
                uow.changes.advance(SWEEP, holder, page.next)
                uow.commit()
        return len(page.changes)

    def prune(
        self, holder: str, lease_seconds: float, retention: timedelta, batch: int
    ) -> int | None:
        """Remove the changes older than retention, batch by batch (each its
        own transaction), while holder holds the task; how many; None when
        another process holds it."""
        removed: int | None = None
        while self._claim(PRUNE, holder, lease_seconds):
            with self._uow() as uow:
                count = uow.changes.prune(self._clock.now() - retention, batch)
                uow.commit()
            removed = (removed or 0) + count
            if count < batch:
                break
        return removed

    def _claim(self, task: str, holder: str, seconds: float) -> bool:
        with self._uow(alone=True) as uow:
            held = uow.changes.claim(task, holder, seconds)
            uow.commit()
        return held

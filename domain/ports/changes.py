"""The ChangeLog port: the feed of committed changes, and its upkeep."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from domain.feed import ChangePage, FeedPosition, Resource


class ChangeLog(Protocol):
    """Changes the store recorded with each write, in the same transaction.

    Upkeep tasks ("sweep", "prune") are run by one process at a time: a
    process holds a task while its lease lasts, and keeps the task's
    position (how far it got) in the store.
    """

    def read(
        self,
        after: FeedPosition | None,
        limit: int,
        resource: Resource | None,
        with_records: bool = True,
    ) -> ChangePage:
        """Up to limit changes after `after` (None: from the oldest kept) in
        feed order, only those no later commit can land behind. Without
        records: each change's record is None (what changed, not to what)."""

    def head(self) -> FeedPosition:
        """The feed's end: a position no change committed later lands behind."""

    def pruned_through(self) -> FeedPosition | None:
        """The last position pruned away, or None when none was."""

    def prune(self, before: datetime, limit: int) -> int:
        """Remove up to limit of the oldest changes, all made before `before`,
        stopping at the first that is not; how many were removed."""

    def claim(self, task: str, holder: str, seconds: float) -> bool:
        """Take or keep the task for holder for `seconds` from now (the store's
        clock, which every process shares), unless another holds it still;
        whether holder has it."""

    def task_position(self, task: str) -> FeedPosition | None:
        """How far the task got, or None before its first run."""

    def advance(self, task: str, holder: str, position: FeedPosition) -> bool:
        """Record the task's progress, if holder still holds it; whether it did."""

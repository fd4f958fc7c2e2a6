"""The change feed: every committed change of a record, once, in order."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from domain.model import Employee, Manager

# Where a change sits in the feed: (position, id), compared as a pair. The
# store decides what the position means; (0, 0) is before every change.
FeedPosition = tuple[int, int]
START: FeedPosition = (0, 0)


class Resource(enum.StrEnum):
    EMPLOYEE = "employee"
    MANAGER = "manager"


class Action(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change: the record right after it (None once deleted)
    and its version then (for a deletion, its last)."""

    position: FeedPosition
    resource: Resource
    record_id: int
    action: Action
    version: int
    at: datetime
    record: Employee | Manager | None


@dataclass(frozen=True, slots=True)
class ChangePage:
    """Changes after a position, and the position to read on from: past the
    last of them, or the feed's end when no more are readable now."""

    changes: list[Change]
    next: FeedPosition


def later(*positions: FeedPosition | None) -> FeedPosition:
    """The furthest of the given positions."""
    return max((p for p in positions if p is not None), default=START)

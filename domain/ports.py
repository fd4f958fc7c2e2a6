"""Ports: what the domain needs from the outside world, as Protocols."""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, TypeVar

from domain.model import Employee, EmployeeFilter, Manager, ManagerFilter, R


class Lock(enum.Enum):
    """Row lock taken by a read inside a write transaction."""

    NONE = "none"
    SHARE = "share"  # the row must not vanish or change key until we commit
    UPDATE = "update"  # we are about to change the row


F_contra = TypeVar("F_contra", EmployeeFilter, ManagerFilter, contravariant=True)


class Repository(Protocol[R, F_contra]):
    """Storage of one kind of record (employees or managers)."""

    def get(self, record_id: int, *, lock: Lock = Lock.NONE) -> R | None:
        """The record with this id, or None."""

    def email_owner(self, email: str) -> int | None:
        """Id of the record using this (lower-cased) email, or None."""

    def add(self, record: R) -> R:
        """Store a new record; returns it with its assigned id."""

    def update(self, record: R, *, expected_version: int) -> None:
        """Store new values; ConcurrentUpdate unless still at expected_version."""

    def delete(self, record_id: int) -> None:
        """Remove the record."""

    def list(self, where: F_contra, after_id: int, limit: int) -> Sequence[R]:
        """Up to limit records matching where with id > after_id, by id."""


class EmployeeRepository(Repository[Employee, EmployeeFilter], Protocol):
    def has_manager(self, manager_id: int) -> bool:
        """Whether any employee reports to this manager."""


class ManagerRepository(Repository[Manager, ManagerFilter], Protocol):
    """Managers; delete raises ManagerHasEmployees if someone reports to one."""


class UnitOfWork(Protocol):
    """One transaction: rolls back on exit unless commit() was called."""

    @property
    def employees(self) -> EmployeeRepository: ...

    @property
    def managers(self) -> ManagerRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None:
        """Make every change of this unit of work durable."""


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool = True) -> UnitOfWork:
        """A new unit of work; write=False promises it only reads."""


class HealthCheck(Protocol):
    def ping(self) -> bool:
        """Whether the backing store answers right now."""


class Storage(UnitOfWorkFactory, HealthCheck, Protocol):
    """Where the records live: units of work over it, its health, its schema."""

    def migrate(self) -> list[str]:
        """Bring the schema up to date; the names of the migrations applied."""

    def close(self) -> None:
        """Release every connection; the storage is not used afterwards."""


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""


Stamp = tuple[str, ...]


class CacheUnavailable(Exception):
    """The cache backend did not answer; callers bypass it."""


class Cache(Protocol):
    """A cache whose entries depend on generation tokens ("dependencies").

    An entry is served only while every dependency still has the token it had
    when the entry's value was read from the source of truth; invalidate()
    gives each dependency a new token. Readers take the stamp before reading
    the source and fill with it, so a fill racing a write can never be served
    after that write's invalidation.
    """

    def read(self, key: str, dependencies: Sequence[str]) -> tuple[bytes | None, Stamp]:
        """The valid entry or None, and the stamp to fill with on a miss."""

    def fill(self, key: str, value: bytes, stamp: Stamp) -> None:
        """Store value under key, valid while the stamp's tokens are current."""

    def invalidate(self, dependencies: Sequence[str]) -> None:
        """Give each dependency a new token, invalidating entries that use it."""


@dataclass(frozen=True, slots=True)
class Quota:
    limit: int
    window_seconds: int


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the quota is whole again
    retry_after_seconds: int  # until a request will be accepted (0 if allowed)

    @classmethod
    def from_window(
        cls,
        allowed: bool,
        quota: Quota,
        *,
        count: int,
        oldest: float,
        newest: float,
        now: float,
    ) -> RateDecision:
        """The decision's numbers from a sliding window's state (every limiter's)."""
        window = quota.window_seconds
        reset = max(0, _ceil(newest + window - now)) if count else 0
        retry = 0 if allowed else max(1, _ceil(oldest + window - now))
        return cls(allowed, quota.limit, max(0, quota.limit - count), reset, retry)


def _ceil(seconds: float) -> int:
    # Clock readings are floats: 60.00000000001 is float noise, not a 61st second.
    return math.ceil(round(seconds, 6))


class RateLimiterUnavailable(Exception):
    """The limiter backend did not answer."""


class RateLimiter(Protocol):
    def hit(self, key: str, quota: Quota) -> RateDecision:
        """Count one request for key against quota (atomically) and decide."""

"""Ports: what the domain needs from the outside world, as Protocols."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, TypeVar

from domain.model import Employee, EmployeeFilter, Manager, ManagerFilter


class Lock(enum.Enum):
    """Row lock taken by a read inside a write transaction."""

    NONE = "none"
    SHARE = "share"  # the row must not vanish or change key until we commit
    UPDATE = "update"  # we are about to change the row


R = TypeVar("R", Employee, Manager)
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


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""


class HealthCheck(Protocol):
    def ping(self) -> bool:
        """Whether the backing store answers right now."""

"""The Storage port: units of work over the repositories, health, schema."""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

from domain.api_keys import ApiKey
from domain.model import (
    Employee,
    EmployeeFilter,
    Manager,
    ManagerFilter,
    Precondition,
    R,
)
from domain.ports.changes import ChangeLog


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

    def add(self, record: R) -> R:
        """Store a new record; returns it with its assigned id. DuplicateEmail
        when another record of its kind has the email."""

    def add_many(self, records: Sequence[R]) -> list[R]:
        """Store new records, in order, in one step; returns them with their
        ids. DuplicateEmail when an email is taken (the caller looks first)."""

    def emails_taken(self, emails: Collection[str]) -> set[str]:
        """Which of these (normalised) emails a record of this kind has."""

    def update(self, record: R, *, expected_version: int) -> None:
        """Store new values; ConcurrentUpdate unless still at expected_version,
        DuplicateEmail when another record of its kind has the email."""

    def change(
        self,
        record_id: int,
        values: Mapping[str, Any],
        precondition: Precondition | None,
        now: datetime,
    ) -> R | None:
        """In one atomic step: if the record exists, its version passes the
        precondition and some field differs from values (valid, normalised,
        no reference to check), set them, one version later, updated_at now.
        The record as stored, or None when nothing was written (the caller
        looks again to tell why). DuplicateEmail as in update."""

    def delete(self, record_id: int) -> None:
        """Remove the record."""

    def list(self, where: F_contra, after_id: int, limit: int) -> Sequence[R]:
        """Up to limit records matching where with id > after_id, by id."""


class EmployeeRepository(Repository[Employee, EmployeeFilter], Protocol):
    def has_manager(self, manager_id: int) -> bool:
        """Whether any employee reports to this manager."""


class ManagerRepository(Repository[Manager, ManagerFilter], Protocol):
    """Managers; delete raises ManagerHasEmployees if someone reports to one."""

    def existing(self, ids: Collection[int], *, lock: Lock = Lock.NONE) -> set[int]:
        """Which of these ids are managers' (locked as asked)."""


class ApiKeyRepository(Protocol):
    """API keys, found by public prefix; add raises DuplicateKey on a taken name."""

    def add(self, key: ApiKey) -> ApiKey:
        """Store a new key; returns it with its assigned id."""

    def by_prefix(self, prefix: str) -> ApiKey | None:
        """The key with this public prefix, revoked or not."""

    def by_name(self, name: str) -> ApiKey | None:
        """The key with this name, revoked or not."""

    def list(self) -> Sequence[ApiKey]:
        """Every key, oldest first."""

    def revoke(self, key_id: int, at: datetime) -> None:
        """Mark the key revoked at `at` (kept, so its name stays taken)."""

    def touch(self, key_id: int, at: datetime, unless_since: datetime) -> None:
        """Set last_used_at to `at`, unless it is already at or after unless_since."""

    def rehash(self, key_id: int, digest: str) -> None:
        """Store the key's token digest anew (under a new SECRET_KEY)."""


class UnitOfWork(Protocol):
    """One transaction: rolls back on exit unless commit() was called."""

    @property
    def employees(self) -> EmployeeRepository: ...

    @property
    def managers(self) -> ManagerRepository: ...

    @property
    def api_keys(self) -> ApiKeyRepository: ...

    @property
    def changes(self) -> ChangeLog: ...

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
    def __call__(self, *, write: bool = True, alone: bool = False) -> UnitOfWork:
        """A new unit of work; write=False promises it only reads. alone=True
        promises a single write and nothing else: one statement, atomic by
        itself, that the store may run without a transaction around it (its
        change may then be durable before commit() is called)."""


class HealthCheck(Protocol):
    def ping(self) -> bool:
        """Whether the backing store answers right now."""

    def reason(self) -> str | None:
        """Why it does not, when known (for readiness), else None."""


class Storage(UnitOfWorkFactory, HealthCheck, Protocol):
    """Where the records live: units of work over it, its health, its schema."""

    def migrate(self, wait_seconds: float = 0.0) -> list[str]:
        """Bring the schema up to date; the names of the migrations applied.
        Waits up to wait_seconds for a store that does not answer yet."""

    def close(self) -> None:
        """Release every connection; the storage is not used afterwards."""

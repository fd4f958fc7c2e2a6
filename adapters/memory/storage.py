"""In-memory storage: a real, thread-safe adapter for tests and the embedded mode.

One process-wide lock serialises units of work, which makes every transaction
trivially serialisable; an undo log makes rollback cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Self

from adapters.memory.api_keys import MemoryApiKeyRepository, Undo
from adapters.memory.changes import MemoryChangeLog, pending_change
from adapters.memory.store import MemoryStore, Table
from domain.errors import ConcurrentUpdate, DuplicateEmail, ManagerHasEmployees
from domain.feed import Action, Change
from domain.model import (
    Employee,
    EmployeeFilter,
    Manager,
    ManagerFilter,
    Precondition,
    R,
    fold,
)
from domain.ports import Lock


class _MemoryRepository(Generic[R]):
    def __init__(self, table: Table[R], undo: list[Undo], log: list[Change]) -> None:
        self._table: Table[R] = table
        self._undo = undo
        self._log = log  # this unit's changes, for the feed when it commits

    def get(self, record_id: int, *, lock: Lock = Lock.NONE) -> R | None:
        return self._table.rows.get(record_id)

    def add(self, record: R) -> R:
        self._check_email(record)
        stored = replace(record, id=next(self._table.ids))
        self._put(stored)
        self._log.append(pending_change(Action.CREATED, stored))
        return stored

    def add_many(self, records: Sequence[R]) -> list[R]:
        return [self.add(record) for record in records]  # undone with the unit

    def emails_taken(self, emails: Collection[str]) -> set[str]:
        return {email for email in emails if email in self._table.by_email}

    def update(self, record: R, *, expected_version: int) -> None:
        current = self._table.rows.get(record.id)
        if current is None or current.version != expected_version:
            raise ConcurrentUpdate()
        self._check_email(record)
        self._remove(current)
        self._put(record)
        if record.version != current.version:
            self._log.append(pending_change(Action.UPDATED, record))

    def change(
        self,
        record_id: int,
        values: Mapping[str, Any],
        precondition: Precondition | None,
        now: datetime,
    ) -> R | None:
        current = self._table.rows.get(record_id)
        if (
            current is None
            or (precondition is not None and not precondition.allows(current.version))
            or all(getattr(current, name) == value for name, value in values.items())
        ):
            return None
        version = current.version + 1
        revised = replace(current, **values, version=version, updated_at=now)
        self.update(revised, expected_version=current.version)
        return revised

    def delete(self, record_id: int) -> None:
        current = self._table.rows.get(record_id)
        if current is not None:
            self._remove(current)
            self._log.append(pending_change(Action.DELETED, current))

    def _scan(self, after_id: int, limit: int, keep: Callable[[R], bool]) -> list[R]:
        rows = self._table.rows
        found: list[R] = []
        for record_id in sorted(i for i in rows if i > after_id):
            if len(found) == limit:
                break
            if keep(rows[record_id]):
                found.append(rows[record_id])
        return found

    def _check_email(self, record: R) -> None:
        owner = self._table.by_email.get(record.email)
        if owner is not None and owner != record.id:
            raise DuplicateEmail(self._table.kind, record.email)

    def _put(self, record: R) -> None:
        self._table.put(record)
        self._undo.append(lambda: self._table.remove(record))

    def _remove(self, record: R) -> None:
        self._table.remove(record)
        self._undo.append(lambda: self._table.put(record))


def _matches_q(record: Employee | Manager, q: str | None) -> bool:
    if not q:
        return True
    needle = fold(q)
    return needle in fold(record.name) or needle in fold(record.email)


class MemoryEmployeeRepository(_MemoryRepository[Employee]):
    def __init__(self, store: MemoryStore, undo: list[Undo], log: list[Change]) -> None:
        super().__init__(store.employees, undo, log)
        self._managers = store.managers

    def add(self, record: Employee) -> Employee:
        self._check_manager(record)
        return super().add(record)

    def update(self, record: Employee, *, expected_version: int) -> None:
        self._check_manager(record)
        super().update(record, expected_version=expected_version)

    def list(
        self, where: EmployeeFilter, after_id: int, limit: int
    ) -> Sequence[Employee]:
        def keep(e: Employee) -> bool:
            return (
                (where.manager_id is None or e.manager_id == where.manager_id)
                and (where.department is None or e.department == where.department)
                and _matches_q(e, where.q)
            )

        return self._scan(after_id, limit, keep)

    def has_manager(self, manager_id: int) -> bool:
        return any(e.manager_id == manager_id for e in self._table.rows.values())

    def _check_manager(self, record: Employee) -> None:
        wanted = record.manager_id  # the foreign key a database would enforce
        if wanted is not None and wanted not in self._managers.rows:
            raise ConcurrentUpdate()


class MemoryManagerRepository(_MemoryRepository[Manager]):
    def __init__(self, store: MemoryStore, undo: list[Undo], log: list[Change]) -> None:
        super().__init__(store.managers, undo, log)
        self._employees = store.employees

    def existing(self, ids: Collection[int], *, lock: Lock = Lock.NONE) -> set[int]:
        return {i for i in ids if i in self._table.rows}

    def delete(self, record_id: int) -> None:
        if any(e.manager_id == record_id for e in self._employees.rows.values()):
            raise ManagerHasEmployees(record_id)
        super().delete(record_id)

    def list(
        self, where: ManagerFilter, after_id: int, limit: int
    ) -> Sequence[Manager]:
        def keep(m: Manager) -> bool:
            return (
                where.department is None or m.department == where.department
            ) and _matches_q(m, where.q)

        return self._scan(after_id, limit, keep)


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._undo: list[Undo] = []
        self._log: list[Change] = []
        self.employees = MemoryEmployeeRepository(store, self._undo, self._log)
        self.managers = MemoryManagerRepository(store, self._undo, self._log)
        self.api_keys = MemoryApiKeyRepository(store.api_keys, self._undo)
        self.changes = MemoryChangeLog(store.feed)

    def __enter__(self) -> Self:
        self._store.lock.acquire()
        self._undo.clear()
        self._log.clear()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            while self._undo:
                self._undo.pop()()
        finally:
            self._store.lock.release()

    def commit(self) -> None:
        self._undo.clear()
        self._store.feed.append(self._log)
        self._log.clear()


class MemoryStorage:
    """Storage in this process: always answers, has no schema to migrate."""

    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store or MemoryStore()

    def __call__(self, *, write: bool = True, alone: bool = False) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.store)

    def reason(self) -> str | None:
        return None

    def ping(self) -> bool:
        return True

    def migrate(self, wait_seconds: float = 0.0) -> list[str]:
        return []

    def close(self) -> None:
        """Nothing to release; the records live as long as this object."""

"""Repositories over peewee; rows are mapped to domain objects and never leave."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Generic

import peewee as pw

from domain.errors import (
    ConcurrentUpdate,
    DomainError,
    DuplicateEmail,
    ManagerHasEmployees,
)
from domain.model import Employee, EmployeeFilter, Manager, ManagerFilter, R, fold
from domain.ports import Lock

_LOCK_CLAUSES = {Lock.SHARE: "FOR SHARE", Lock.UPDATE: "FOR UPDATE"}


@contextmanager
def _integrity_as(error: Callable[[pw.IntegrityError], DomainError]) -> Iterator[None]:
    try:
        yield
    except pw.IntegrityError as exc:
        raise error(exc) from exc


class _SqlRepository(Generic[R]):
    kind: str
    entity: Callable[..., R]
    columns: tuple[str, ...]

    def __init__(self, model: Any, postgres: bool) -> None:
        self._model = model
        self._postgres = postgres
        self._fields = [getattr(model, name) for name in self.columns]
        # strpos/instr: a literal substring test, so % and _ need no escaping.
        self._position = pw.fn.STRPOS if postgres else pw.fn.INSTR

    def get(self, record_id: int, *, lock: Lock = Lock.NONE) -> R | None:
        query = self._select().where(self._model.id == record_id)
        if lock is not Lock.NONE and self._postgres:
            query = query.for_update(_LOCK_CLAUSES[lock])
        row = query.first()
        return None if row is None else self.entity(*row)

    def email_owner(self, email: str) -> int | None:
        m = self._model
        # lower(email) matches the unique expression index; plain email would scan.
        owner: int | None = m.select(m.id).where(pw.fn.LOWER(m.email) == email).scalar()
        return owner

    def add(self, record: R) -> R:
        with _integrity_as(lambda exc: self._write_error(exc, record)):
            new_id = self._model.insert(self._values(record)).execute()
        return record.__class__(**{**_as_dict(record), "id": new_id})

    def update(self, record: R, *, expected_version: int) -> None:
        m = self._model
        query = m.update(self._values(record)).where(
            (m.id == record.id) & (m.version == expected_version)
        )
        with _integrity_as(lambda exc: self._write_error(exc, record)):
            changed = query.execute()
        if changed != 1:
            raise ConcurrentUpdate()

    def delete(self, record_id: int) -> None:
        m = self._model
        with _integrity_as(lambda exc: self._delete_error(record_id)):
            m.delete().where(m.id == record_id).execute()

    def _page(self, after_id: int, limit: int, *conditions: Any) -> Sequence[R]:
        m = self._model
        query = self._select().where(m.id > after_id, *conditions)
        return [self.entity(*row) for row in query.order_by(m.id).limit(limit)]

    def _common_filters(self, department: str | None, q: str | None) -> list[Any]:
        m = self._model
        conditions = []
        if department is not None:
            conditions.append(m.department == department)
        if q:
            needle = fold(q)
            conditions.append(
                (self._position(m.search_name, needle) > 0)
                | (self._position(m.search_email, needle) > 0)
            )
        return conditions

    def _select(self) -> Any:
        return self._model.select(*self._fields).tuples()

    def _values(self, record: R) -> dict[str, Any]:
        values = _as_dict(record)
        del values["id"]
        values["search_name"] = fold(record.name)
        values["search_email"] = fold(record.email)
        return values

    def _write_error(self, exc: pw.IntegrityError, record: R) -> DomainError:
        # Both engines name the unique index (..._email_lower_key) in the message.
        if "email" in str(exc):
            return DuplicateEmail(self.kind, record.email)
        return ConcurrentUpdate()  # a referenced manager vanished under us

    def _delete_error(self, record_id: int) -> DomainError:
        return ConcurrentUpdate()


def _as_dict(record: Employee | Manager) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


def _columns(entity: type[Employee | Manager]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(entity))


class SqlEmployeeRepository(_SqlRepository[Employee]):
    kind = "Employee"
    entity = Employee
    columns = _columns(Employee)

    def list(
        self, where: EmployeeFilter, after_id: int, limit: int
    ) -> Sequence[Employee]:
        conditions = self._common_filters(where.department, where.q)
        if where.manager_id is not None:
            conditions.append(self._model.manager_id == where.manager_id)
        return self._page(after_id, limit, *conditions)

    def has_manager(self, manager_id: int) -> bool:
        m = self._model
        return bool(m.select(m.id).where(m.manager_id == manager_id).exists())


class SqlManagerRepository(_SqlRepository[Manager]):
    kind = "Manager"
    entity = Manager
    columns = _columns(Manager)

    def list(
        self, where: ManagerFilter, after_id: int, limit: int
    ) -> Sequence[Manager]:
        return self._page(
            after_id, limit, *self._common_filters(where.department, where.q)
        )

    def _delete_error(self, record_id: int) -> DomainError:
        return ManagerHasEmployees(record_id)  # the foreign key refused

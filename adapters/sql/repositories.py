"""Repositories over peewee; rows are mapped to domain objects and never leave."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Generic

import peewee as pw

from adapters.sql.batches import BatchWrites, ManagerLookup
from adapters.sql.tables import UtcDateTimeField
from domain.errors import (
    ConcurrentUpdate,
    DomainError,
    DuplicateEmail,
    ManagerHasEmployees,
)
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

_LOCK_CLAUSES = {Lock.SHARE: "FOR SHARE", Lock.UPDATE: "FOR UPDATE"}


@contextmanager
def _integrity_as(error: Callable[[pw.IntegrityError], DomainError]) -> Iterator[None]:
    try:
        yield
    except pw.IntegrityError as exc:
        raise error(exc) from exc


class _SqlRepository(BatchWrites[R], Generic[R]):
    kind: str
    entity: Callable[..., R]
    columns: tuple[str, ...]

    def __init__(self, model: Any, postgres: bool) -> None:
        self._model = m = model
        self._db = model._meta.database
        self._postgres = postgres
        self._fields = [getattr(model, name) for name in self.columns]
        # strpos/instr: a literal substring test, so % and _ need no escaping.
        self._position = pw.fn.STRPOS if postgres else pw.fn.INSTR
        # The hot statements' SQL, built by peewee once: building it cost more
        # CPU than running it. A call binds its values in the same order.
        self._dates = [i for i, f in enumerate(self._fields) if _is_date(f)]
        self._get_sql = {lock: _sql(self._get_query(lock)) for lock in Lock}
        # peewee orders an insert's and an update's columns as the model does.
        self._stored = [f for f in m._meta.sorted_fields if f.name != "id"]
        # Each stored column: its name, and how a date becomes its value.
        self._plan = [
            (f.name, f.db_value if _is_date(f) else None) for f in self._stored
        ]
        blank = dict.fromkeys(self._stored)
        self._insert_sql = _sql(m.insert(blank))
        self._update_sql = _sql(m.update(blank).where((m.id == 0) & (m.version == 0)))
        self._change_sql: dict[tuple[tuple[str, ...], int], str] = {}

    def get(self, record_id: int, *, lock: Lock = Lock.NONE) -> R | None:
        row = self._db.execute_sql(self._get_sql[lock], (record_id, 1)).fetchone()
        return None if row is None else self._entity(row)

    def add(self, record: R) -> R:
        with _integrity_as(lambda exc: self._write_error(exc, record.email)):
            cursor = self._db.execute_sql(self._insert_sql, self._values(record))
            new_id = cursor.fetchone()[0] if self._postgres else cursor.lastrowid
        return dataclasses.replace(record, id=new_id)

    def update(self, record: R, *, expected_version: int) -> None:
        values = (*self._values(record), record.id, expected_version)
        with _integrity_as(lambda exc: self._write_error(exc, record.email)):
            changed = self._db.execute_sql(self._update_sql, values).rowcount
        if changed != 1:
            raise ConcurrentUpdate()

    def change(
        self,
        record_id: int,
        values: Mapping[str, Any],
        precondition: Precondition | None,
        now: datetime,
    ) -> R | None:
        # One UPDATE ... RETURNING: the row is locked only while it runs, not
        # across a read and the application's work, as a hot row needs.
        names = tuple(f.name for f in self._stored if f.name in values)
        versions: tuple[int, ...] = ()
        if precondition is not None and not precondition.any_version:
            versions = tuple(precondition.versions)
            if not versions:
                return None
        shape = (names, len(versions))
        sql = self._change_sql.get(shape)
        if sql is None:
            sql = self._change_sql[shape] = self._statement(names, versions)
        given: tuple[Any, ...] = tuple(values[name] for name in names)
        searched: tuple[str, ...] = tuple(
            fold(values[n]) for n in ("name", "email") if n in values
        )
        updated_at = self._model.updated_at.db_value(now)
        params = (*given, *searched, updated_at, record_id, *versions, *given)
        email = values.get("email", "")
        with _integrity_as(lambda exc: self._write_error(exc, email)):
            rows = self._db.execute_sql(sql, params).fetchall()  # steps it to the end
        return self._entity(rows[0]) if rows else None

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

    def _get_query(self, lock: Lock) -> Any:
        query = self._select().where(self._model.id == 0).limit(1)
        if lock is not Lock.NONE and self._postgres:
            query = query.for_update(_LOCK_CLAUSES[lock])
        return query

    def _entity(self, row: tuple[Any, ...]) -> R:
        if self._dates:
            row = tuple(_utc(v) if i in self._dates else v for i, v in enumerate(row))
        return self.entity(*row)

    def _values(self, record: R) -> tuple[Any, ...]:
        """The stored columns' values, in the order of self._stored."""
        search = {"search_name": fold(record.name), "search_email": fold(record.email)}
        return tuple(
            search[name] if name in search
            else to_db(getattr(record, name)) if to_db
            else getattr(record, name)
            for name, to_db in self._plan
        )  # fmt: skip

    def _statement(self, names: tuple[str, ...], versions: tuple[int, ...]) -> str:
        p, table = self._db.param, _quoted(self._model._meta.table_name)
        search: list[str] = [f"search_{n}" for n in ("name", "email") if n in names]
        sets = [f"{_quoted(n)} = {p}" for n in (*names, *search)]
        sets += ['"version" = "version" + 1', f'"updated_at" = {p}']
        differs = "IS DISTINCT FROM" if self._postgres else "IS NOT"
        where = f'"id" = {p}'
        if versions:
            where += f' AND "version" IN ({", ".join(p for _ in versions)})'
        where += f" AND ({' OR '.join(f'{_quoted(n)} {differs} {p}' for n in names)})"
        returning = ", ".join(_quoted(c) for c in self.columns)
        sets_sql = ", ".join(sets)
        return f"UPDATE {table} SET {sets_sql} WHERE {where} RETURNING {returning}"

    def _write_error(self, exc: pw.IntegrityError, email: str) -> DomainError:
        # Both engines name the unique index (..._email_lower_key) in the message.
        if "email" in str(exc):
            return DuplicateEmail(self.kind, email)
        return ConcurrentUpdate()  # a referenced manager vanished under us

    def _delete_error(self, record_id: int) -> DomainError:
        return ConcurrentUpdate()


def _sql(query: Any) -> str:
    sql, _ = query.sql()
    return str(sql)


def _quoted(name: str) -> str:
    """A quoted identifier; both engines take double quotes."""
    return f'"{name}"'


def _is_date(field: Any) -> bool:
    return isinstance(field, UtcDateTimeField)


_utc = UtcDateTimeField().python_value


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


class SqlManagerRepository(ManagerLookup, _SqlRepository[Manager]):
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

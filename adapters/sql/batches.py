"""Batch writes of the SQL repositories: one multi-row INSERT per batch."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, Generic

import peewee as pw

from domain.errors import DomainError
from domain.model import R
from domain.ports import Lock

# PostgreSQL array types of the stored columns' peewee field types.
_ARRAY = {"VARCHAR": "text[]", "TEXT": "text[]", "INT": "integer[]",
          "BIGINT": "bigint[]", "TIMESTAMPTZ": "timestamptz[]"}  # fmt: skip


class BatchWrites(Generic[R]):
    """Mixed into _SqlRepository, whose attributes it uses."""

    _db: pw.Database
    _model: Any
    _postgres: bool
    _stored: list[Any]

    def _values(self, record: R) -> tuple[Any, ...]:
        raise NotImplementedError

    def _write_error(self, exc: pw.IntegrityError, email: str) -> DomainError:
        raise NotImplementedError

    def add_many(self, records: Sequence[R]) -> list[R]:
        p = self._db.param
        columns = ", ".join(f'"{f.column_name}"' for f in self._stored)
        into = f'INSERT INTO "{self._model._meta.table_name}" ({columns})'
        rows = [self._values(record) for record in records]
        params: list[Any]
        if self._postgres:
            # One array a column: ten parameters, not ten thousand, to send
            # and to parse (a third less time for a thousand rows).
            arrays = ", ".join(f"{p}::{_ARRAY[f.field_type]}" for f in self._stored)
            sql = f"{into} SELECT * FROM unnest({arrays}) RETURNING id, email"
            params = [list(column) for column in zip(*rows, strict=True)]
        else:
            row = f"({', '.join(p for _ in self._stored)})"
            sql = f"{into} VALUES {', '.join(row for _ in rows)} RETURNING id, email"
            params = [value for row_values in rows for value in row_values]
        try:
            rows = self._db.execute_sql(sql, params).fetchall()
        except pw.IntegrityError as exc:
            raise self._write_error(exc, "") from exc
        # Matched by email (unique in the batch): RETURNING promises no order.
        ids = {email: record_id for record_id, email in rows}
        return [_with_id(r, ids[r.email]) for r in records]

    def emails_taken(self, emails: Collection[str]) -> set[str]:
        if not emails:
            return set()
        table = self._model._meta.table_name
        if self._postgres:
            # One index probe an email, whatever the statistics say: a plain
            # join or `= ANY(...)` was planned as a scan of the whole table,
            # lower() of every row, on a table not analysed yet (75 ms and
            # growing); LIMIT in a LATERAL subquery cannot be hashed.
            sql = (
                f"SELECT e.email FROM unnest({self._db.param}::text[]) AS e(email), "
                f'LATERAL (SELECT 1 FROM "{table}" t WHERE lower(t.email) = e.email '
                "LIMIT 1) AS taken"
            )
            params: list[Any] = [list(emails)]
        else:
            where, params = self._among("lower(email)", emails)
            sql = f'SELECT lower(email) FROM "{table}" WHERE {where}'
        return {email for (email,) in self._db.execute_sql(sql, params).fetchall()}

    def _among(self, column: str, values: Collection[Any]) -> tuple[str, list[Any]]:
        """column IN values: one array parameter on PostgreSQL."""
        if self._postgres:
            return f"{column} = ANY({self._db.param})", [list(values)]
        marks = ", ".join(self._db.param for _ in values)
        return f"{column} IN ({marks})", list(values)


class ManagerLookup:
    """Mixed into the SQL manager repository."""

    _db: pw.Database
    _postgres: bool
    _among: Callable[[str, Collection[Any]], tuple[str, list[Any]]]

    def existing(self, ids: Collection[int], *, lock: Lock = Lock.NONE) -> set[int]:
        if not ids:
            return set()
        where, params = self._among("id", ids)
        sql = f'SELECT id FROM "manager" WHERE {where}'
        if lock is not Lock.NONE and self._postgres:
            sql += " FOR SHARE" if lock is Lock.SHARE else " FOR UPDATE"
        return {
            record_id for (record_id,) in self._db.execute_sql(sql, params).fetchall()
        }


def _with_id(record: R, record_id: int) -> R:
    """The record with its id (dataclasses.replace, at a fifth of its cost:
    it is done a thousand times a batch)."""
    values = [getattr(record, name) for name in record.__dataclass_fields__]
    return type(record)(record_id, *values[1:])

"""The change feed in SQL: the `change` rows the triggers of migration 003
write, read in (position, id) order, pruned, and the tasks that keep it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import peewee as pw

from adapters.sql.tables import UtcDateTimeField
from domain.feed import Action, Change, ChangePage, FeedPosition, Resource, later
from domain.model import Employee, Manager

_COLUMNS = "id, position, resource, record_id, action, version, at, data"
_KEYS = "id, position, resource, record_id, action, version, at, NULL AS data"
_ENTITIES = {Resource.EMPLOYEE: Employee, Resource.MANAGER: Manager}
_DATES = ("created_at", "updated_at")
_field = UtcDateTimeField()


def _utc(value: Any) -> datetime:
    moment = _field.python_value(value)
    assert moment is not None  # the columns read here are NOT NULL
    return moment


# PostgreSQL: the oldest transaction id still running, in the statement's own
# snapshot. Every change that can still commit has a position at or above it.
_XMIN = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"


class SqlChangeLog:
    def __init__(self, db: pw.Database, postgres: bool) -> None:
        self._db = db
        self._postgres = postgres
        self._p = db.param

    def read(
        self,
        after: FeedPosition | None,
        limit: int,
        resource: Resource | None,
        with_records: bool = True,
    ) -> ChangePage:
        p = self._p
        columns = _COLUMNS if with_records else _KEYS
        where = f"(position, id) > ({p}, {p})"
        params: list[Any] = list(after or (-1, 0))
        if resource is not None:
            where += f" AND resource = {p}"
            params.append(resource.value)
        if self._postgres:
            # One statement: the horizon and the rows below it, one snapshot.
            sql = (
                f"SELECT h.xmin, c.* FROM (SELECT {_XMIN} AS xmin) h "
                f"LEFT JOIN LATERAL (SELECT {columns} FROM change WHERE {where} "
                f"AND position < h.xmin ORDER BY position, id LIMIT {p}) c ON true"
            )
            rows = self._db.execute_sql(sql, (*params, limit)).fetchall()
            end: FeedPosition = (rows[0][0], 0)
            changes = [_change(row[1:]) for row in rows if row[1] is not None]
        else:
            # Writers take turns: ids commit in order. The end is read first,
            # and rows past it wait for the next read.
            last_id = self._last_id()
            sql = (
                f"SELECT {columns} FROM change WHERE {where} AND id <= {p} "
                f"ORDER BY position, id LIMIT {p}"
            )
            rows = self._db.execute_sql(sql, (*params, last_id, limit)).fetchall()
            end = (0, last_id)
            changes = [_change(row) for row in rows]
        if len(changes) == limit:
            return ChangePage(changes, changes[-1].position)
        # Nothing more is readable now: read on from the end, which no later
        # commit lands behind (nor a change of the other resource).
        last = changes[-1].position if changes else None
        return ChangePage(changes, later(after, last, end))

    def head(self) -> FeedPosition:
        if self._postgres:
            (xmin,) = self._db.execute_sql(f"SELECT {_XMIN}").fetchone()
            return (xmin, 0)
        return (0, self._last_id())

    def pruned_through(self) -> FeedPosition | None:
        return self.task_position("prune")

    def prune(self, before: datetime, limit: int) -> int:
        p = self._p
        below = f"WHERE position < {_XMIN} " if self._postgres else ""
        order = f"ORDER BY position, id LIMIT {p}"
        sql = f"SELECT position, id, at FROM change {below}{order}"
        rows = self._db.execute_sql(sql, (limit,)).fetchall()
        last: FeedPosition | None = None
        count = 0
        for position, change_id, at in rows:
            if _utc(at) >= before:
                break
            last, count = (position, change_id), count + 1
        if last is None:
            return 0
        self._db.execute_sql(
            f"DELETE FROM change WHERE (position, id) <= ({p}, {p})", last
        )
        mark = f"UPDATE feed_task SET position = {p}, change_id = {p} WHERE name = "
        self._db.execute_sql(f"{mark}'prune'", last)
        return count

    def claim(self, task: str, holder: str, seconds: float) -> bool:
        p = self._p
        if self._postgres:  # the database's clock: every instance shares it
            now, until = "now()", f"now() + {p} * interval '1 second'"
            params: tuple[Any, ...] = (holder, seconds, task, holder)
        else:  # one host: its clock is every process's
            now, until = p, p
            at = datetime.now(UTC)
            later_at = _text(at + timedelta(seconds=seconds))
            params = (holder, later_at, task, holder, _text(at))
        sql = (
            f"UPDATE feed_task SET holder = {p}, until = {until} WHERE name = {p} "
            f"AND (holder IS NULL OR holder = {p} OR until < {now})"
        )
        return bool(self._db.execute_sql(sql, params).rowcount == 1)

    def task_position(self, task: str) -> FeedPosition | None:
        p = self._p
        sql = f"SELECT position, change_id FROM feed_task WHERE name = {p}"
        row = self._db.execute_sql(sql, (task,)).fetchone()
        if row is None or row[0] is None:
            return None
        return (row[0], row[1])

    def advance(self, task: str, holder: str, position: FeedPosition) -> bool:
        p = self._p
        sql = (
            f"UPDATE feed_task SET position = {p}, change_id = {p} "
            f"WHERE name = {p} AND holder = {p}"
        )
        cursor = self._db.execute_sql(sql, (*position, task, holder))
        return bool(cursor.rowcount == 1)

    def _last_id(self) -> int:
        sql = "SELECT seq FROM sqlite_sequence WHERE name = 'change'"
        row = self._db.execute_sql(sql).fetchone()
        return int(row[0]) if row else 0


_text = _field.db_value


def _change(row: Sequence[Any]) -> Change:
    change_id, position, resource, record_id, action, version, at, data = row
    kind = Resource(resource)
    record = None
    if data is not None:
        fields = json.loads(data) if isinstance(data, str) else dict(data)
        for name in _DATES:
            fields[name] = _utc(fields[name])
        record = _ENTITIES[kind](**fields)
    return Change(
        (position, change_id),
        kind,
        record_id,
        Action(action),
        version,
        _utc(at),
        record,
    )

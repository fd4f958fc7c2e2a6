"""peewee models for the tables. The schema itself lives in migrations/."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import peewee as pw


class UtcDateTimeField(pw.Field):
    """Timezone-aware UTC datetimes, stored as TIMESTAMPTZ or ISO text."""

    field_type = "TIMESTAMPTZ"

    def db_value(self, value: datetime | None) -> str | None:
        return None if value is None else value.astimezone(UTC).isoformat()

    def python_value(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Tables:
    employee: Any
    manager: Any
    api_key: Any


def bind_tables(db: pw.Database) -> Tables:
    """Model classes bound to this database; one set per database object."""

    class Base(pw.Model):
        id = pw.BigAutoField()
        name = pw.CharField(max_length=200)
        email = pw.CharField(max_length=254)
        department = pw.CharField(max_length=100, null=True)
        # Case-folded copies: the q filter is a literal substring search on these.
        search_name = pw.TextField()
        search_email = pw.TextField()
        version = pw.IntegerField()
        created_at = UtcDateTimeField()
        updated_at = UtcDateTimeField()

        class Meta:
            database = db

    class ManagerRow(Base):
        class Meta:
            table_name = "manager"

    class EmployeeRow(Base):
        title = pw.CharField(max_length=100, null=True)
        manager_id = pw.BigIntegerField(null=True)  # foreign key in the schema

        class Meta:
            table_name = "employee"

    class ApiKeyRow(pw.Model):
        id = pw.BigAutoField()
        name = pw.CharField(max_length=100)
        prefix = pw.CharField(max_length=16)
        digest = pw.CharField(max_length=64)
        scopes = pw.TextField()  # comma-separated
        quotas = pw.TextField()  # JSON: {"group": [limit, window_seconds]}
        created_at = UtcDateTimeField()
        last_used_at = UtcDateTimeField(null=True)
        revoked_at = UtcDateTimeField(null=True)

        class Meta:
            database = db
            table_name = "api_key"

    return Tables(employee=EmployeeRow, manager=ManagerRow, api_key=ApiKeyRow)

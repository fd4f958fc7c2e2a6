"""API keys in memory: the twin of the SQL api_key table, undone with its unit."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from domain.api_keys import ApiKey
from domain.errors import DuplicateKey

Undo = Callable[[], None]


@dataclass
class ApiKeyTable:
    rows: dict[int, ApiKey] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


class MemoryApiKeyRepository:
    def __init__(self, table: ApiKeyTable, undo: list[Undo]) -> None:
        self._table = table
        self._undo = undo

    def add(self, key: ApiKey) -> ApiKey:
        for what in ("name", "prefix"):
            if any(getattr(k, what) == getattr(key, what) for k in self._rows()):
                raise DuplicateKey(what)
        stored = replace(key, id=next(self._table.ids))
        self._put(stored)
        return stored

    def by_prefix(self, prefix: str) -> ApiKey | None:
        return next((k for k in self._rows() if k.prefix == prefix), None)

    def by_name(self, name: str) -> ApiKey | None:
        return next((k for k in self._rows() if k.name == name), None)

    def list(self) -> Sequence[ApiKey]:
        return [self._table.rows[i] for i in sorted(self._table.rows)]

    def revoke(self, key_id: int, at: datetime) -> None:
        key = self._table.rows.get(key_id)
        if key is not None:
            self._put(replace(key, revoked_at=at))

    def touch(self, key_id: int, at: datetime, unless_since: datetime) -> None:
        key = self._table.rows.get(key_id)
        if key is None:
            return
        if key.last_used_at is None or key.last_used_at < unless_since:
            self._put(replace(key, last_used_at=at))

    def rehash(self, key_id: int, digest: str) -> None:
        key = self._table.rows.get(key_id)
        if key is not None:
            self._put(replace(key, digest=digest))

    def _rows(self) -> Sequence[ApiKey]:
        return list(self._table.rows.values())

    def _put(self, key: ApiKey) -> None:
        before = self._table.rows.get(key.id)
        self._table.rows[key.id] = key

        def undo() -> None:
            if before is None:
                del self._table.rows[key.id]
            else:
                self._table.rows[key.id] = before

        self._undo.append(undo)

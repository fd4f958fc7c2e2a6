"""API keys over peewee; a row becomes a domain ApiKey and never leaves."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import peewee as pw

from domain.api_keys import ApiKey, Quota, Scope
from domain.errors import DuplicateKey


class SqlApiKeyRepository:
    def __init__(self, model: Any) -> None:
        self._model = model

    def add(self, key: ApiKey) -> ApiKey:
        try:
            new_id = self._model.insert(_values(key)).execute()
        except pw.IntegrityError as exc:
            # Both engines name the violated column in the message.
            raise DuplicateKey("name" if "name" in str(exc) else "prefix") from exc
        return replace(key, id=new_id)

    def by_prefix(self, prefix: str) -> ApiKey | None:
        return self._one(self._model.prefix == prefix)

    def by_name(self, name: str) -> ApiKey | None:
        return self._one(self._model.name == name)

    def list(self) -> Sequence[ApiKey]:
        return [_key(row) for row in self._model.select().order_by(self._model.id)]

    def revoke(self, key_id: int, at: datetime) -> None:
        m = self._model
        m.update(revoked_at=at).where(m.id == key_id).execute()

    def touch(self, key_id: int, at: datetime, unless_since: datetime) -> None:
        m = self._model
        stale = m.last_used_at.is_null() | (m.last_used_at < unless_since)
        m.update(last_used_at=at).where((m.id == key_id) & stale).execute()

    def rehash(self, key_id: int, digest: str) -> None:
        m = self._model
        m.update(digest=digest).where(m.id == key_id).execute()

    def _one(self, condition: Any) -> ApiKey | None:
        row = self._model.select().where(condition).first()
        return None if row is None else _key(row)


def _values(key: ApiKey) -> dict[str, Any]:
    return {
        "name": key.name,
        "prefix": key.prefix,
        "digest": key.digest,
        "scopes": ",".join(sorted(key.scopes)),
        "quotas": json.dumps(
            {group: [q.limit, q.window_seconds] for group, q in key.quotas.items()}
        ),
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    }


def _key(row: Any) -> ApiKey:
    quotas = {group: Quota(*pair) for group, pair in json.loads(row.quotas).items()}
    return ApiKey(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        digest=row.digest,
        scopes=frozenset(Scope(s) for s in row.scopes.split(",") if s),
        created_at=row.created_at,
        quotas=quotas,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )

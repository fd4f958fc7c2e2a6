"""The Storage port's API-key repository, against every adapter (`storage`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.api_keys import ApiKey, Quota, Scope
from domain.errors import DuplicateKey
from domain.ports import Storage

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def key(name: str = "billing", prefix: str = "0a1b2c3d", **changes: object) -> ApiKey:
    made = ApiKey(
        id=0,
        name=name,
        prefix=prefix,
        digest="d" * 64,
        scopes=frozenset({Scope.READ}),
        created_at=T0,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def add(storage: Storage, *keys: ApiKey) -> list[ApiKey]:
    with storage() as uow:
        stored = [uow.api_keys.add(k) for k in keys]
        uow.commit()
    return stored


def by_prefix(storage: Storage, prefix: str) -> ApiKey | None:
    with storage(write=False) as uow:
        return uow.api_keys.by_prefix(prefix)


def test_a_key_reads_back_as_it_was_stored(storage: Storage) -> None:
    quotas = {"employees": Quota(1000, 60), "managers": Quota(5, 30)}
    (stored,) = add(
        storage,
        key(scopes=frozenset({Scope.READ, Scope.WRITE}), quotas=quotas),
    )
    assert stored.id >= 1
    assert by_prefix(storage, "0a1b2c3d") == stored
    with storage(write=False) as uow:
        assert uow.api_keys.by_name("billing") == stored
        assert uow.api_keys.list() == [stored]
    assert stored.quotas == quotas
    assert stored.last_used_at is None and stored.revoked_at is None


def test_absent_keys_are_none(storage: Storage) -> None:
    add(storage, key())
    assert by_prefix(storage, "ffffffff") is None
    with storage(write=False) as uow:
        assert uow.api_keys.by_name("nobody") is None


def test_keys_are_listed_oldest_first(storage: Storage) -> None:
    add(storage, key("a", "00000001"), key("b", "00000002"), key("c", "00000003"))
    with storage(write=False) as uow:
        assert [k.name for k in uow.api_keys.list()] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("second", "what"),
    [(key("billing", "99999999"), "name"), (key("other", "0a1b2c3d"), "prefix")],
)
def test_a_taken_name_or_prefix_is_refused_and_nothing_changes(
    storage: Storage, second: ApiKey, what: str
) -> None:
    add(storage, key())
    with pytest.raises(DuplicateKey) as refused:
        add(storage, second)
    assert refused.value.what == what
    with storage(write=False) as uow:
        assert len(uow.api_keys.list()) == 1


def test_revoking_keeps_the_key_with_its_time(storage: Storage) -> None:
    (stored,) = add(storage, key())
    with storage() as uow:
        uow.api_keys.revoke(stored.id, T0 + timedelta(hours=1))
        uow.commit()
    assert by_prefix(storage, stored.prefix) == replace(
        stored, revoked_at=T0 + timedelta(hours=1)
    )


def test_rehashing_stores_the_new_digest_and_only_that(storage: Storage) -> None:
    stored, other = add(storage, key(), key("other", "11112222"))
    with storage() as uow:
        uow.api_keys.rehash(stored.id, "e" * 64)
        uow.commit()
    assert by_prefix(storage, stored.prefix) == replace(stored, digest="e" * 64)
    assert by_prefix(storage, other.prefix) == other
    with storage() as uow:  # not committed: undone
        uow.api_keys.rehash(stored.id, "f" * 64)
    assert by_prefix(storage, stored.prefix).digest == "e" * 64  # type: ignore[union-attr]


def test_touch_writes_only_when_the_last_use_is_older_than_asked(
    storage: Storage,
) -> None:
    (stored,) = add(storage, key())
    first, soon, later = T0, T0 + timedelta(seconds=30), T0 + timedelta(minutes=2)

    def touch(at: datetime) -> datetime | None:
        with storage() as uow:
            uow.api_keys.touch(stored.id, at, unless_since=at - timedelta(minutes=1))
            uow.commit()
        found = by_prefix(storage, stored.prefix)
        assert found is not None
        return found.last_used_at

    assert touch(first) == first  # never used: written
    assert touch(soon) == first  # used within the minute: left alone
    assert touch(later) == later


def test_uncommitted_key_changes_are_rolled_back(storage: Storage) -> None:
    (stored,) = add(storage, key())
    with storage() as uow:
        uow.api_keys.add(key("second", "11111111"))
        uow.api_keys.revoke(stored.id, T0)
    with storage(write=False) as uow:
        assert uow.api_keys.list() == [stored]

"""The API-key service on every store: tokens, verification, revocation, use."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from adapters.memory.revocations import LocalRevocations
from domain.api_keys import Quota, Scope, token_digest
from domain.errors import ApiKeyNotFound, DuplicateKey, ValidationFailed
from domain.ports import Storage
from domain.services import ApiKeyService
from tests.support.clocks import ManualClock

SECRET = "s" * 40
CACHE_SECONDS = 10.0
BOTH = {Scope.READ, Scope.WRITE}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def monotonic() -> ManualClock:
    return ManualClock()


@pytest.fixture
def keys(storage: Storage, clock: ManualClock, monotonic: ManualClock) -> ApiKeyService:
    return service(storage, clock, monotonic)


def service(
    storage: Storage, clock: ManualClock, monotonic: ManualClock
) -> ApiKeyService:
    return ApiKeyService(
        storage, clock, SECRET, cache_seconds=CACHE_SECONDS, monotonic=monotonic
    )


def test_a_token_has_256_random_bits_behind_a_public_prefix(
    keys: ApiKeyService,
) -> None:
    key, token = keys.create("billing", BOTH, {})
    assert re.fullmatch(r"ema_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", token)
    assert token.split("_")[1] == key.prefix
    assert key.digest == token_digest(SECRET, token)
    assert token not in key.digest


def test_the_token_is_recognised_and_nothing_else(keys: ApiKeyService) -> None:
    key, token = keys.create("billing", BOTH, {"employees": Quota(1000, 60)})
    found = keys.authenticate(token)
    assert found is not None
    assert (found.id, found.quotas) == (key.id, {"employees": Quota(1000, 60)})
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert keys.authenticate(tampered) is None
    assert keys.authenticate("ema_00000000_" + "x" * 43) is None
    assert keys.authenticate("not a token") is None


def test_the_same_token_under_another_secret_is_unknown(
    storage: Storage, clock: ManualClock, monotonic: ManualClock
) -> None:
    _, token = service(storage, clock, monotonic).create("billing", BOTH, {})
    other = ApiKeyService(storage, clock, "t" * 40, monotonic=monotonic)
    assert other.authenticate(token) is None


def test_a_revoked_key_is_refused_at_once_where_it_was_revoked(
    keys: ApiKeyService,
) -> None:
    _, token = keys.create("billing", BOTH, {})
    assert keys.authenticate(token) is not None
    revoked = keys.revoke("billing")
    assert revoked.revoked_at is not None
    assert keys.authenticate(token) is None


def test_another_process_refuses_a_revoked_key_once_its_memory_lapses(
    storage: Storage, clock: ManualClock, monotonic: ManualClock
) -> None:
    here, there = (service(storage, clock, monotonic) for _ in range(2))
    key, token = here.create("billing", BOTH, {})
    assert there.authenticate(token) is not None  # now remembered there
    here.revoke(key.prefix)
    monotonic.advance(CACHE_SECONDS - 0.5)
    assert there.authenticate(token) is not None  # within the stated delay
    monotonic.advance(1)
    assert there.authenticate(token) is None


class Refused(Exception):
    pass


def refuse() -> None:
    raise Refused()


def test_a_key_verified_before_is_looked_up_again_without_the_allowance(
    keys: ApiKeyService, monotonic: ManualClock
) -> None:
    """The allowance (before_lookup) is for tokens never verified here: a
    busy client's threads re-verifying its own key when its trust runs out
    must not spend it, nor be refused by it."""
    _, token = keys.create("billing", BOTH, {})
    unknown = "ema_00000000_" + "x" * 43
    with pytest.raises(Refused):
        keys.authenticate(token, before_lookup=refuse)  # never verified here
    assert keys.authenticate(token) is not None
    monotonic.advance(CACHE_SECONDS + 1)  # trusted no longer: looked up again
    assert keys.authenticate(token, before_lookup=refuse) is not None
    with pytest.raises(Refused):
        keys.authenticate(unknown, before_lookup=refuse)


def test_a_key_revoked_after_it_was_verified_spends_the_allowance_again(
    storage: Storage, clock: ManualClock, monotonic: ManualClock
) -> None:
    here, there = (service(storage, clock, monotonic) for _ in range(2))
    key, token = here.create("billing", BOTH, {})
    assert there.authenticate(token) is not None
    here.revoke(key.prefix)
    monotonic.advance(CACHE_SECONDS + 1)
    assert there.authenticate(token, before_lookup=refuse) is None  # refused now
    monotonic.advance(CACHE_SECONDS + 1)  # past the refusal's memory too
    with pytest.raises(Refused):
        there.authenticate(token, before_lookup=refuse)


def test_last_use_is_written_at_most_once_a_minute(
    keys: ApiKeyService, clock: ManualClock, monotonic: ManualClock
) -> None:
    _, token = keys.create("billing", BOTH, {})
    first = clock.now()
    keys.authenticate(token)

    def last_used() -> object:
        (listed,) = keys.list()
        return listed.last_used_at

    assert last_used() == first
    for _ in range(5):
        clock.advance(10)
        monotonic.advance(CACHE_SECONDS + 1)  # asks the database every time
        keys.authenticate(token)
    assert last_used() == first  # 50 s later: not written again
    clock.advance(15)
    monotonic.advance(15)
    keys.authenticate(token)
    assert last_used() == clock.now()


def test_a_key_trusted_for_minutes_has_its_use_written_each_minute(
    storage: Storage, clock: ManualClock, monotonic: ManualClock
) -> None:
    """Without a lookup: a trusted key's next write is due by the process's
    clock, not read from the wall clock on every request."""
    creator = ApiKeyService(storage, clock, SECRET)
    _, token = creator.create("billing", BOTH, {})
    counting = CountingStorage(storage)
    keys = ApiKeyService(
        counting,  # type: ignore[arg-type]
        clock,
        SECRET,
        cache_seconds=300,
        monotonic=monotonic,
    )
    keys.authenticate(token)
    first, units = clock.now(), counting.units  # the lookup and the write
    for _ in range(2):
        clock.advance(29)
        monotonic.advance(29)
        assert keys.authenticate(token) is not None
    assert counting.units == units  # 58 s: nothing asked of the storage
    clock.advance(3)
    monotonic.advance(3)
    assert keys.authenticate(token) is not None
    assert counting.units == units + 1
    (listed,) = creator.list()
    assert listed.last_used_at == clock.now() != first


@pytest.mark.parametrize(
    ("name", "scopes", "field"),
    [
        ("", BOTH, "name"),
        ("x" * 101, BOTH, "name"),
        ("o\nk", BOTH, "name"),
        ("ok", set(), "scopes"),
    ],
)
def test_bad_names_and_empty_scopes_are_refused(
    keys: ApiKeyService, name: str, scopes: set[Scope], field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        keys.create(name, scopes, {})
    assert [e.field for e in refused.value.errors] == [field]
    assert keys.list() == []


def test_a_taken_name_is_refused(keys: ApiKeyService) -> None:
    keys.create("billing", BOTH, {})
    with pytest.raises(DuplicateKey):
        keys.create("billing", {Scope.READ}, {})
    assert len(keys.list()) == 1


def test_revoking_an_unknown_key_says_so(keys: ApiKeyService) -> None:
    with pytest.raises(ApiKeyNotFound):
        keys.revoke("nobody")


def test_revoking_twice_keeps_the_first_time(
    keys: ApiKeyService, clock: ManualClock
) -> None:
    keys.create("billing", BOTH, {})
    first = keys.revoke("billing").revoked_at
    clock.advance(60)
    assert keys.revoke("billing").revoked_at == first
    assert first is not None and first + timedelta(seconds=60) == clock.now()


class CountingStorage:
    """The real storage, counting the units of work asked of it."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.units = 0

    def __call__(self, *, write: bool = True, alone: bool = False) -> object:
        self.units += 1
        return self.storage(write=write, alone=alone)


def test_a_refused_token_is_not_looked_up_again_for_a_while(
    storage: Storage, clock: ManualClock, monotonic: ManualClock
) -> None:
    counting = CountingStorage(storage)
    keys = ApiKeyService(
        counting,  # type: ignore[arg-type]
        clock,
        SECRET,
        cache_seconds=CACHE_SECONDS,
        monotonic=monotonic,
    )
    unknown = "ema_0badc0de_" + "A" * 43
    for _ in range(20):
        assert keys.authenticate(unknown) is None
    assert counting.units == 1
    monotonic.advance(CACHE_SECONDS + 1)
    assert keys.authenticate(unknown) is None
    assert counting.units == 2


@pytest.mark.parametrize("name", ["0a1b2c3d", "deadbeef"])
def test_a_name_that_looks_like_a_prefix_is_refused(
    keys: ApiKeyService, name: str
) -> None:
    with pytest.raises(ValidationFailed):
        keys.create(name, BOTH, {})


def test_a_revocation_heard_is_refused_at_once_one_missed_after_the_cache_time(
    storage: Storage, clock: ManualClock, monotonic: ManualClock
) -> None:
    """Two processes: one revokes; the other trusted the key from its cache."""
    notices = LocalRevocations()
    here = ApiKeyService(storage, clock, SECRET, monotonic=monotonic, notices=notices)
    there = service(storage, clock, monotonic)  # hears nothing
    listening = service(storage, clock, monotonic)
    notices.listen(listening.forget)
    _, token = here.create("shared", [Scope.READ], {})
    assert there.authenticate(token) is not None
    assert listening.authenticate(token) is not None
    here.revoke("shared")
    assert listening.authenticate(token) is None  # told: at once
    assert there.authenticate(token) is not None  # not told: trusted a while
    monotonic.advance(CACHE_SECONDS + 1)
    assert there.authenticate(token) is None


def test_a_key_made_before_a_secret_rotation_works_after_it_and_is_stored_anew(
    storage: Storage, clock: ManualClock, monotonic: ManualClock
) -> None:
    old, new = "old-secret-" + "o" * 32, "new-secret-" + "n" * 32
    before = ApiKeyService(storage, clock, old, monotonic=monotonic)
    _, used = before.create("used", [Scope.READ], {})
    _, idle = before.create("idle", [Scope.READ], {})
    rotating = ApiKeyService(
        storage, clock, new, monotonic=monotonic, previous_secret_keys=[old]
    )
    assert rotating.authenticate(used) is not None
    with storage(write=False) as uow:
        stored = uow.api_keys.by_name("used")
        still_old = uow.api_keys.by_name("idle")
    assert stored is not None and stored.digest == token_digest(new, used)
    assert still_old is not None and still_old.digest == token_digest(old, idle)
    # The rotation finished (SECRET_KEY_PREVIOUS dropped): the used key goes on
    # working; a key never used during the rotation no longer does.
    after = ApiKeyService(storage, clock, new, monotonic=monotonic)
    assert after.authenticate(used) is not None
    assert after.authenticate(idle) is None
    assert after.authenticate(used[:-1] + "x") is None

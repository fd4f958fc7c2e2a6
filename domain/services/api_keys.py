"""API keys: create, list, revoke, and recognise a presented token."""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import replace
from datetime import timedelta

from domain.api_keys import (
    ApiKey,
    Quota,
    Scope,
    mint_token,
    name_errors,
    prefix_of,
    token_digest,
)
from domain.errors import (
    ApiKeyNotFound,
    DuplicateKey,
    FieldError,
    StorageUnavailable,
    ValidationFailed,
)
from domain.ports import Clock, UnitOfWorkFactory
from domain.ports.revocations import RevocationNotices

# last_used_at is a hint for operators, not an audit log: one write a minute
# per key at most, never one per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_MAX_REMEMBERED = 10_000


class ApiKeyService:
    """Keys are stored as HMACs of their tokens; a token is shown once, at creation.

    A verified key is remembered in this process for cache_seconds, so the hot
    path does not query the database. A revocation is announced (notices):
    every process that hears it forgets the key at once; one that misses it
    trusts the key until its cache time ends.
    """

    def __init__(
        self,
        storage: UnitOfWorkFactory,
        clock: Clock,
        secret_key: str,
        *,
        cache_seconds: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
        notices: RevocationNotices | None = None,
        previous_secret_keys: Sequence[str] = (),
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._secret_key = secret_key
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        # By token: trusted until, the key, when to look at its last use again
        # (monotonic). The process holds every request's token anyway.
        self._verified: dict[str, tuple[float, ApiKey, float]] = {}
        self._refused: dict[str, float] = {}  # token -> until when
        self._notices = notices
        self._previous = tuple(previous_secret_keys)

    def create(
        self, name: str, scopes: Iterable[Scope], quotas: Mapping[str, Quota]
    ) -> tuple[ApiKey, str]:
        """A new key and its token (shown to the operator once, stored never)."""
        name = name.strip()
        scopes = frozenset(scopes)
        errors = name_errors(name)
        if not scopes:
            errors.append(FieldError("scopes", "at least one of read, write"))
        if errors:
            raise ValidationFailed(errors)
        for _ in range(3):  # a 32-bit prefix collides rarely; then draw again
            prefix, token = mint_token()
            key = ApiKey(
                id=0,
                name=name,
                prefix=prefix,
                digest=token_digest(self._secret_key, token),
                scopes=scopes,
                created_at=self._clock.now(),
                quotas=dict(quotas),
            )
            try:
                return self._add(key), token
            except DuplicateKey as exc:
                if exc.what != "prefix":
                    raise
        raise DuplicateKey("prefix")

    def list(self) -> list[ApiKey]:
        """Every key, oldest first; revoked ones included."""
        with self._storage(write=False) as uow:
            return list(uow.api_keys.list())

    def revoke(self, name_or_prefix: str) -> ApiKey:
        """Revoke the key with this name or prefix; ApiKeyNotFound otherwise."""
        with self._storage() as uow:
            key = uow.api_keys.by_name(name_or_prefix) or uow.api_keys.by_prefix(
                name_or_prefix
            )
            if key is None:
                raise ApiKeyNotFound(name_or_prefix)
            if key.revoked_at is None:
                now = self._clock.now()
                uow.api_keys.revoke(key.id, now)
                uow.commit()
                key = replace(key, revoked_at=now)
        self.forget(key.id)
        if self._notices is not None:
            self._notices.announce(key.id)  # a failure is logged there
        return key

    def forget(self, key_id: int | None) -> None:
        """Stop trusting a remembered key (None: every one) without a lookup:
        it was revoked somewhere, or a notice may have been missed."""
        with self._lock:
            if key_id is None:
                self._verified.clear()
                return
            for token, (_, key, _) in list(self._verified.items()):
                if key.id == key_id:
                    del self._verified[token]

    def authenticate(
        self, token: str, before_lookup: Callable[[], None] | None = None
    ) -> ApiKey | None:
        """The live key this token belongs to, or None. before_lookup runs
        before a token this process never verified is looked up in the
        storage; it may refuse the lookup by raising. A key verified before,
        whose trust ran out, is looked up again without it: a busy client's
        threads would otherwise spend an address's allowance on its own
        valid key every cache_seconds (bench/RESULTS.md)."""
        now = self._monotonic()
        # The hot path, a token trusted here: one dict lookup by the token
        # itself, no HMAC, no clock (a fifth of a cached read's CPU went to
        # them: bench/RESULTS.md). Reads need no lock: a dict read is atomic.
        entry = self._verified.get(token)
        if entry is not None and entry[0] > now:
            if entry[2] > now:
                return entry[1]
            return self._note_use(token, entry[1])
        return self._verify(token, entry is not None, before_lookup)

    def _verify(
        self,
        token: str,
        verified_before: bool,
        before_lookup: Callable[[], None] | None,
    ) -> ApiKey | None:
        prefix = prefix_of(token)
        if prefix is None:
            return None
        if self._recently_refused(token):
            return None  # a token retried in a loop costs no query each time
        if before_lookup is not None and not verified_before:
            before_lookup()
        key = self._look_up(prefix, token)
        return None if key is None else self._note_use(token, key)

    def _add(self, key: ApiKey) -> ApiKey:
        with self._storage() as uow:
            stored = uow.api_keys.add(key)
            uow.commit()
        return stored

    def _look_up(self, prefix: str, token: str) -> ApiKey | None:
        digest = token_digest(self._secret_key, token)
        with self._storage(write=False) as uow:
            key = uow.api_keys.by_prefix(prefix)
        # Constant-time: how much of a guess matched must not show in timing.
        if key is not None and not hmac.compare_digest(key.digest, digest):
            key = self._under_previous_secret(key, token, digest)
        if key is None or key.revoked_at is not None:
            self._refuse(token)
            return None
        self._remember(token, key)
        return key

    def _under_previous_secret(
        self, key: ApiKey, token: str, digest: str
    ) -> ApiKey | None:
        """The key, if its token was stored under a previous SECRET_KEY; then
        stored anew under the current one (best effort: tried again on the
        next lookup if the database does not take it)."""
        for secret in self._previous:
            if hmac.compare_digest(key.digest, token_digest(secret, token)):
                with suppress(StorageUnavailable), self._storage() as uow:
                    uow.api_keys.rehash(key.id, digest)
                    uow.commit()
                return replace(key, digest=digest)
        return None

    def _recently_refused(self, token: str) -> bool:
        with self._lock:
            until = self._refused.get(token)
        return until is not None and until > self._monotonic()

    def _refuse(self, token: str) -> None:
        with self._lock:
            self._verified.pop(token, None)  # no longer verified before
            if len(self._refused) >= _MAX_REMEMBERED:
                del self._refused[next(iter(self._refused))]
            self._refused[token] = self._monotonic() + self._cache_seconds

    def _remember(self, token: str, key: ApiKey) -> None:
        now = self._monotonic()
        with self._lock:
            if len(self._verified) >= _MAX_REMEMBERED:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = (now + self._cache_seconds, key, now)

    def _note_use(self, token: str, key: ApiKey) -> ApiKey:
        """The key, its last use written when the one stored is a minute old;
        looked at again when this one will be, by the process's clock."""
        now = self._clock.now()
        since = now - LAST_USED_RESOLUTION
        if key.last_used_at is None or key.last_used_at <= since:
            # Best effort: a database that cannot take this write must not
            # fail a request that was authenticated from memory.
            with suppress(StorageUnavailable), self._storage() as uow:
                uow.api_keys.touch(key.id, now, unless_since=since)
                uow.commit()
            key = replace(key, last_used_at=now)
        assert key.last_used_at is not None
        due = (key.last_used_at + LAST_USED_RESOLUTION - now).total_seconds()
        with self._lock:
            entry = self._verified.get(token)
            if entry is not None:  # trusted no longer than it was
                self._verified[token] = (entry[0], key, self._monotonic() + due)
        return key

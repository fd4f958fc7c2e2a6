"""The shared response cache on Redis (see domain.ports.Cache).

A write still tries its invalidation once even while the breaker is open (at
most one timeout), because skipping it could leave other instances serving
the old state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import redis

from adapters.breaker import BreakerOpen, CircuitBreaker
from adapters.redis.client import new_token
from adapters.redis.fast_path import fast_path_for
from domain.ports import CacheUnavailable, Stamp

log = logging.getLogger(__name__)
_entry_codec = msgspec.msgpack.Encoder()
_entry_decoder = msgspec.msgpack.Decoder(tuple[list[str], bytes])


class RedisCache:
    """Generation-token cache (see domain.ports.Cache) in one round trip per read.

    A read is one MGET of the epoch, the dependency tokens and the entry.
    Invalidation is attempted even while the breaker is open, since skipping
    it would leave other instances serving the old state. When it still fails,
    this process stops reading the cache and a background thread keeps trying
    to give the epoch a new token, which drops every entry at once; after
    that, reads resume. Tokens expire (unused ones would pile up otherwise):
    an expired token is replaced by a fresh random one, which no entry has.
    """

    def __init__(
        self,
        client: redis.Redis,
        breaker: CircuitBreaker,
        ttl_seconds: int = 60,
        prefix: str = "ema:cache:v1:",
        epoch_retry_seconds: float = 0.25,
    ) -> None:
        self._client = client
        self._fast_path = fast_path_for(client)
        self._epoch_retry = epoch_retry_seconds
        self._breaker = breaker
        self._ttl = ttl_seconds
        self._token_ttl = 2 * ttl_seconds + 60
        self._prefix = prefix
        self._epoch = f"{prefix}epoch"
        self._pending = threading.Event()  # an invalidation failed: epoch must move
        self._lock = threading.Lock()
        self._missed = 0  # failed invalidations so far; the epoch must move after each
        self._bumping = False

    @property
    def epoch_bump_pending(self) -> bool:
        return self._pending.is_set()

    def read(self, key: str, dependencies: Sequence[str]) -> tuple[bytes | None, Stamp]:
        if self._pending.is_set():
            # Entries may predate a write this process could not announce.
            raise CacheUnavailable()
        command = self.read_command(key, dependencies)
        reply = self._call(lambda: self._fast_path.call(*command, again=True))
        return self.lookup(command, reply)

    def read_command(self, key: str, dependencies: Sequence[str]) -> tuple[str, ...]:
        """read's one command, for a pipeline; lookup() reads its reply."""
        return (
            "MGET",
            self._epoch,
            *(self._dep(d) for d in dependencies),
            self._entry(key),
        )

    def lookup(
        self, command: tuple[str, ...], values: list[bytes | None]
    ) -> tuple[bytes | None, Stamp]:
        names = list(command[1:-1])
        tokens, raw = values[:-1], values[-1]
        if None in tokens:
            tokens = self._call(lambda: self._ensure_tokens(names, tokens))
        stamp = tuple(t.decode() for t in tokens if t is not None)
        if raw is None:
            return None, stamp
        try:
            entry_stamp, value = _entry_decoder.decode(raw)
        except msgspec.MsgspecError:
            return None, stamp  # written by another version: a miss, refilled
        return (value if tuple(entry_stamp) == stamp else None), stamp

    def fill(self, key: str, value: bytes, stamp: Stamp) -> None:
        entry = _entry_codec.encode((list(stamp), value))
        self._call(
            lambda: self._fast_path.call(
                "SET", self._entry(key), entry, "EX", self._ttl
            )
        )

    def invalidate(self, dependencies: Sequence[str]) -> None:
        def renew() -> None:
            ttl = self._token_ttl
            self._fast_path.pipeline(
                [("SET", self._dep(d), new_token(), "EX", ttl) for d in dependencies]
            )

        try:
            self._breaker.call(renew, force=True)
        except (BreakerOpen, redis.RedisError) as exc:
            self._schedule_epoch_bump()
            raise CacheUnavailable() from exc

    def _ensure_tokens(
        self, names: list[str], tokens: list[bytes | None]
    ) -> list[bytes | None]:
        """Give missing tokens a value; SET NX GET keeps one a racer set first."""
        missing = [i for i, t in enumerate(tokens) if t is None]
        fresh = {i: new_token().encode() for i in missing}
        commands = []
        for i in missing:
            expiry = () if names[i] == self._epoch else ("EX", self._token_ttl)
            commands.append(("SET", names[i], fresh[i], "NX", "GET", *expiry))
        for i, existing in zip(
            missing, self._fast_path.pipeline(commands), strict=True
        ):
            tokens[i] = existing if existing is not None else fresh[i]
        return tokens

    def _schedule_epoch_bump(self) -> None:
        with self._lock:
            self._missed += 1
            self._pending.set()
            if self._bumping:
                return
            self._bumping = True
        try:
            threading.Thread(
                target=self._bump_epoch_until_done, name="cache-epoch", daemon=True
            ).start()
        except RuntimeError:
            with self._lock:
                self._bumping = False
            raise

    def _bump_epoch_until_done(self) -> None:
        while True:
            with self._lock:
                covers = self._missed  # a SET from now on comes after their commits
            try:
                self._breaker.call(
                    lambda: self._client.set(self._epoch, new_token()), force=True
                )
            except Exception:  # BreakerOpen, or anything else: keep trying
                time.sleep(self._epoch_retry)  # retry timer, not synchronisation
                continue
            with self._lock:
                if self._missed == covers:
                    self._pending.clear()
                    self._bumping = False
                    break
        log.warning("cache epoch renewed after a failed invalidation")

    def _dep(self, dependency: str) -> str:
        return f"{self._prefix}gen:{dependency}"

    def _entry(self, key: str) -> str:
        return f"{self._prefix}entry:{key}"

    def _call(self, operation: Callable[[], Any]) -> Any:
        try:
            return self._breaker.call(operation)
        except (BreakerOpen, redis.RedisError) as exc:
            raise CacheUnavailable() from exc

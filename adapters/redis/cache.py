"""The shared response cache on Redis (see domain.ports.Cache).

Key layout, the same on one node and on a Redis Cluster: each dependency's
token is `<prefix>cache:v2:{<dependency>}`, and an entry lives beside the
token of its first dependency (its home), as `<prefix>cache:v2:{<home>}:<key>`.
The braces are a hash tag: a record's token and its entries share a slot, so
a read is one MGET on one node, and different records spread over every
shard. No key is read by every request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import msgspec
import redis

from adapters.breaker import BreakerOpen, CircuitBreaker
from adapters.redis.client import new_token
from adapters.redis.lane import Lane
from domain.ports import CacheUnavailable, Stamp

log = logging.getLogger(__name__)
_entry_codec = msgspec.msgpack.Encoder()
_entry_decoder = msgspec.msgpack.Decoder(tuple[list[str], bytes])
_RETRY_CAP_SECONDS = 5.0


class RedisCache:
    """Generation-token cache (see domain.ports.Cache), one round trip a read.

    A read is an MGET of the home dependency's token and the entry, and a GET
    of each other dependency's token, sent together. The stamp it gives
    starts with the home's token key, which places the entry's fill.

    Invalidation is attempted even while the breaker is open, since skipping
    it would leave other instances serving the old state. When it still
    fails, this process stops reading the cache and a background thread
    keeps trying to renew those tokens, with growing pauses; once it has,
    reads resume. Tokens expire (unused ones would pile up otherwise): an
    expired token is replaced by a fresh random one, which no entry has.
    """

    def __init__(
        self,
        lane: Lane,
        breaker: CircuitBreaker,
        ttl_seconds: int = 60,
        prefix: str = "ema:cache:v2:",
        retry_seconds: float = 0.25,
    ) -> None:
        self._lane = lane
        self._retry = retry_seconds
        self._breaker = breaker
        self._ttl = ttl_seconds
        self._token_ttl = 2 * ttl_seconds + 60
        self._prefix = prefix
        self._pending = threading.Event()  # tokens this process could not renew
        self._lock = threading.Lock()
        # Dependency -> invalidations of it that failed; renewed when unchanged.
        self._missed: dict[str, int] = {}
        self._renewing = False

    @property
    def renewal_pending(self) -> bool:
        return self._pending.is_set()

    def read(self, key: str, dependencies: Sequence[str]) -> tuple[bytes | None, Stamp]:
        if self._pending.is_set():
            # Entries may predate a write this process could not announce.
            raise CacheUnavailable()
        commands = self.read_commands(key, dependencies)
        replies = self._call(lambda: self._lane.pipeline(commands, again=True))
        return self.lookup(commands, replies)

    def read_commands(
        self, key: str, dependencies: Sequence[str]
    ) -> list[tuple[str, ...]]:
        """read's commands, for a pipeline; lookup() reads their replies."""
        home, *others = dependencies
        return [
            ("MGET", self.token_key(home), self.entry_key(home, key)),
            *(("GET", self.token_key(d)) for d in others),
        ]

    def lookup(
        self, commands: list[tuple[str, ...]], replies: list[Any]
    ) -> tuple[bytes | None, Stamp]:
        (token, raw), *other_tokens = replies
        names = [commands[0][1], *(command[1] for command in commands[1:])]
        tokens: list[bytes | None] = [token, *other_tokens]
        if None in tokens:
            tokens = self._call(lambda: self._ensure_tokens(names, tokens))
        stamp = (names[0], *(t.decode() for t in tokens if t is not None))
        if raw is None:
            return None, stamp
        try:
            entry_stamp, value = _entry_decoder.decode(raw)
        except msgspec.MsgspecError:
            return None, stamp  # written by another version: a miss, refilled
        return (value if tuple(entry_stamp) == stamp else None), stamp

    def fill(self, key: str, value: bytes, stamp: Stamp) -> None:
        entry = _entry_codec.encode((list(stamp), value))
        command = ("SET", f"{stamp[0]}:{key}", entry, "EX", self._ttl)
        self._call(lambda: self._lane.call(*command))

    def invalidate(self, dependencies: Sequence[str]) -> None:
        try:
            self._breaker.call(lambda: self._renew(dependencies), force=True)
        except (BreakerOpen, redis.RedisError) as exc:
            self._schedule_renewal(dependencies)
            raise CacheUnavailable() from exc

    def token_key(self, dependency: str) -> str:
        return f"{self._prefix}{{{dependency}}}"

    def entry_key(self, home: str, key: str) -> str:
        return f"{self.token_key(home)}:{key}"

    def _renew(self, dependencies: Sequence[str]) -> None:
        ttl = self._token_ttl
        self._lane.pipeline(
            [("SET", self.token_key(d), new_token(), "EX", ttl) for d in dependencies]
        )

    def _ensure_tokens(
        self, names: list[str], tokens: list[bytes | None]
    ) -> list[bytes | None]:
        """Give missing tokens a value; SET NX GET keeps one a racer set first."""
        missing = [i for i, t in enumerate(tokens) if t is None]
        fresh = {i: new_token().encode() for i in missing}
        commands = [
            ("SET", names[i], fresh[i], "NX", "GET", "EX", self._token_ttl)
            for i in missing
        ]
        for i, existing in zip(missing, self._lane.pipeline(commands), strict=True):
            tokens[i] = existing if existing is not None else fresh[i]
        return tokens

    def _schedule_renewal(self, dependencies: Sequence[str]) -> None:
        with self._lock:
            for dependency in dependencies:
                self._missed[dependency] = self._missed.get(dependency, 0) + 1
            self._pending.set()
            if self._renewing:
                return
            self._renewing = True
        log.warning(
            "cache invalidation failed; this process reads no cached entry "
            "until it has renewed the tokens of %s",
            ", ".join(dependencies),
        )
        try:
            threading.Thread(
                target=self._renew_until_done, name="cache-renewal", daemon=True
            ).start()
        except RuntimeError:
            with self._lock:
                self._renewing = False
            raise

    def _renew_until_done(self) -> None:
        pause = self._retry
        while True:
            with self._lock:
                todo = dict(self._missed)  # a renewal from now on follows their commits
            try:
                self._breaker.call(partial(self._renew, list(todo)), force=True)
            except Exception:  # BreakerOpen, or anything else: keep trying
                time.sleep(pause)  # retry timer, not synchronisation
                pause = min(pause * 2, _RETRY_CAP_SECONDS)
                continue
            with self._lock:
                for dependency, failures in todo.items():
                    if self._missed.get(dependency) == failures:
                        del self._missed[dependency]
                if not self._missed:
                    self._pending.clear()
                    self._renewing = False
                    break
        log.warning("cache tokens renewed after a failed invalidation; reading again")

    def _call(self, operation: Callable[[], Any]) -> Any:
        try:
            return self._breaker.call(operation)
        except (BreakerOpen, redis.RedisError) as exc:
            raise CacheUnavailable() from exc

"""Idempotency records in this process: correct for one process, the reference
for the Redis store."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from domain.ports import Claim, ClaimState, StoredResponse


@dataclass(frozen=True, slots=True)
class _Entry:
    expires_at: float
    fingerprint: str
    token: str
    response: StoredResponse | None = None  # None while the request runs


class MemoryIdempotencyStore:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 100_000,
    ) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def claim(self, key: str, fingerprint: str, pending_seconds: int) -> Claim:
        with self._lock:
            entry = self._live(key)
            if entry is None:
                token = uuid.uuid4().hex
                self._put(
                    key, _Entry(self._clock() + pending_seconds, fingerprint, token)
                )
                return Claim(ClaimState.OWNED, token=token)
        return Claim.of_taken_key(entry.fingerprint, entry.response, fingerprint)

    def complete(
        self,
        key: str,
        token: str,
        fingerprint: str,
        response: StoredResponse,
        keep_seconds: int,
    ) -> None:
        with self._lock:
            entry = self._live(key)
            if entry is not None and entry.token == token:
                expires_at = self._clock() + keep_seconds
                self._entries[key] = _Entry(expires_at, fingerprint, token, response)

    def release(self, key: str, token: str) -> None:
        with self._lock:
            entry = self._live(key)
            if entry is not None and entry.token == token and entry.response is None:
                del self._entries[key]

    def renew(self, key: str, token: str, pending_seconds: int) -> bool:
        with self._lock:
            entry = self._live(key)
            if entry is None or entry.token != token or entry.response is not None:
                return False
            expires_at = self._clock() + pending_seconds
            self._entries[key] = _Entry(expires_at, entry.fingerprint, token)
            return True

    def _live(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at <= self._clock():
            del self._entries[key]
            return None
        return entry

    def _put(self, key: str, entry: _Entry) -> None:
        if len(self._entries) >= self._max_entries:  # bound memory: drop the oldest
            del self._entries[next(iter(self._entries))]
        self._entries[key] = entry

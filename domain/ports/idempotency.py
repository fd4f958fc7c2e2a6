"""The IdempotencyStore port: the first answer to each idempotency key."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class IdempotencyUnavailable(Exception):
    """The idempotency store did not answer."""


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]  # the ones a replay repeats


class ClaimState(enum.Enum):
    OWNED = "owned"  # this request runs; complete() or release() when done
    IN_FLIGHT = "in_flight"  # another request with this key is still running
    DONE = "done"  # answered before, with the same request: replay it
    MISMATCH = "mismatch"  # this key was used for a different request


@dataclass(frozen=True, slots=True)
class Claim:
    state: ClaimState
    token: str = ""  # OWNED: proves ownership to complete() and release()
    response: StoredResponse | None = None  # DONE

    @classmethod
    def of_taken_key(
        cls, stored_fingerprint: str, response: StoredResponse | None, fingerprint: str
    ) -> Claim:
        """What a request finds when its key is already held (every store's rule)."""
        if stored_fingerprint != fingerprint:
            return cls(ClaimState.MISMATCH)
        if response is None:
            return cls(ClaimState.IN_FLIGHT)
        return cls(ClaimState.DONE, response=response)


class IdempotencyStore(Protocol):
    """Remembers the response to each idempotency key, atomically across instances.

    `key` names the client, the endpoint and the client's key; `fingerprint`
    the request. A claim that is never completed lapses after pending_seconds.
    """

    def claim(self, key: str, fingerprint: str, pending_seconds: int) -> Claim:
        """Own the key for this request, or say what holds it."""

    def complete(
        self,
        key: str,
        token: str,
        fingerprint: str,
        response: StoredResponse,
        keep_seconds: int,
    ) -> None:
        """Store the owned key's response for keep_seconds."""

    def release(self, key: str, token: str) -> None:
        """Give the owned key up unanswered, so a retry runs afresh."""

    def renew(self, key: str, token: str, pending_seconds: int) -> bool:
        """Hold the owned, unanswered key pending_seconds more (the request is
        still running); False when it is no longer this request's."""

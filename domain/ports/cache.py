"""The Cache port: entries that depend on generation tokens."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

Stamp = tuple[str, ...]


class CacheUnavailable(Exception):
    """The cache backend did not answer; callers bypass it."""


class Cache(Protocol):
    """A cache whose entries depend on generation tokens ("dependencies").

    An entry is served only while every dependency still has the token it had
    when the entry's value was read from the source of truth; invalidate()
    gives each dependency a new token. Readers take the stamp before reading
    the source and fill with it, so a fill racing a write can never be served
    after that write's invalidation.
    """

    def read(self, key: str, dependencies: Sequence[str]) -> tuple[bytes | None, Stamp]:
        """The valid entry or None, and the stamp to fill with on a miss."""

    def fill(self, key: str, value: bytes, stamp: Stamp) -> None:
        """Store value under key, valid while the stamp's tokens are current."""

    def invalidate(self, dependencies: Sequence[str]) -> None:
        """Give each dependency a new token, invalidating entries that use it."""

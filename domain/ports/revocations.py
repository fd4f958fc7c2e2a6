"""The RevocationNotices port: every process hears that a key was revoked,
so none goes on trusting it from its cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class RevocationNotices(Protocol):
    def announce(self, key_id: int) -> bool:
        """Tell every process; whether the notice went out (best effort: a
        process that misses it trusts the key until its cache time ends)."""

    def listen(self, forget: Callable[[int | None], None]) -> None:
        """From now on, call forget(key_id) for each key revoked anywhere,
        and forget(None) whenever notices may have been missed."""

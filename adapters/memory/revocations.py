"""Revocation notices within one process (the embedded default)."""

from __future__ import annotations

from collections.abc import Callable


class LocalRevocations:
    def __init__(self) -> None:
        self._listeners: list[Callable[[int | None], None]] = []

    def announce(self, key_id: int) -> bool:
        for forget in list(self._listeners):
            forget(key_id)
        return True

    def listen(self, forget: Callable[[int | None], None]) -> None:
        self._listeners.append(forget)

"""Ids and other positive integers, from paths, query strings and headers."""

from __future__ import annotations

from falcon.routing import BaseConverter

from domain.model import MAX_ID


def parse_number(text: str, low: int = 1, high: int = MAX_ID) -> int | None:
    """low..high written in ASCII digits (at most 19, as a 64-bit id), or None."""
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    number = int(text)
    return number if low <= number <= high else None


class IdConverter(BaseConverter):
    """A positive 64-bit id in ASCII digits; anything else is no route (404)."""

    def convert(self, value: str) -> int | None:
        return parse_number(value)

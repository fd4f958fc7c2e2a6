"""Route converters."""

from __future__ import annotations

from falcon.routing import BaseConverter

from domain.model import MAX_ID


class IdConverter(BaseConverter):
    """A positive 64-bit id in ASCII digits; anything else is no route (404)."""

    def convert(self, value: str) -> int | None:
        if not (value.isascii() and value.isdigit()) or len(value) > 19:
            return None
        number = int(value)
        return number if 1 <= number <= MAX_ID else None

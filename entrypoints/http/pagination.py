"""Query-string parsing for lists: limit, opaque keyset cursors, filters, Link."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

import falcon
import msgspec

from domain.errors import FieldError
from domain.model import Page, has_control_characters
from entrypoints.http.converters import parse_number
from entrypoints.http.json_media import encoder
from entrypoints.http.problems import invalid
from entrypoints.http.response_cache import CachedResponse

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_FILTER_LENGTH = 254
MAX_CURSOR_LENGTH = 64  # ours are about 30: bounds the request line too
_CURSOR_PREFIX = b"c1:"  # lets the format change without misreading old cursors


@dataclass(frozen=True, slots=True)
class PageRequest:
    after_id: int
    limit: int
    filters: dict[str, Any]


def encode_cursor(last_id: int) -> str:
    raw = _CURSOR_PREFIX + str(last_id).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> int | None:
    """The id the page starts after, or None when the cursor is malformed."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        return None
    digits = raw.removeprefix(_CURSOR_PREFIX)
    if raw == digits:
        return None
    return parse_number(digits.decode("ascii", "replace"), low=0)


def parse_id_filter(text: str) -> int:
    """An id filter's value; ValueError says what is wrong."""
    value = parse_number(text)
    if value is None:
        raise ValueError("must be a positive integer")
    return value


def parse_text_filter(text: str) -> str:
    """A text filter's value; ValueError says what is wrong."""
    if len(text) > MAX_FILTER_LENGTH:
        raise ValueError(f"must be at most {MAX_FILTER_LENGTH} characters")
    # No stored value holds these, and PostgreSQL refuses NUL in a parameter.
    if has_control_characters(text):
        raise ValueError("must not contain control characters")
    return text


FilterParser = Callable[[str], Any]


def parse_page_request(
    req: falcon.Request, filters: Mapping[str, FilterParser]
) -> PageRequest:
    """Every parameter checked; 422 names each invalid one."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    after_id, limit = 0, DEFAULT_LIMIT
    for name, raw in req.params.items():
        if isinstance(raw, list):
            errors.append(FieldError(name, "must be given at most once"))
        elif name == "limit":
            parsed = parse_number(raw, high=MAX_LIMIT)
            if parsed is None:
                errors.append(
                    FieldError(name, f"must be an integer from 1 to {MAX_LIMIT}")
                )
            else:
                limit = parsed
        elif name == "cursor":
            start = decode_cursor(raw) if raw else 0
            if start is None:
                errors.append(FieldError(name, "not a cursor this API issued"))
            else:
                after_id = start
        elif name in filters:
            try:
                values[name] = filters[name](raw)
            except ValueError as exc:
                errors.append(FieldError(name, str(exc)))
        else:
            errors.append(FieldError(name, "unknown query parameter"))
    if errors:
        raise invalid("Invalid query parameters.", errors)
    return PageRequest(after_id, limit, values)


class _Identified(Protocol):
    @property
    def id(self) -> int: ...


T = TypeVar("T", bound=_Identified)


def render_page(
    page: Page[T],
    req: falcon.Request,
    to_out: Callable[[T], msgspec.Struct],
    page_type: type[msgspec.Struct],
) -> CachedResponse:
    """The page's JSON body, and its Link header when another page follows."""
    cursor = encode_cursor(page.items[-1].id) if page.has_more else None
    link = None
    if cursor is not None:
        params = {k: v for k, v in req.params.items() if k != "cursor"}
        params["cursor"] = cursor
        link = f'<{req.path}?{urlencode(params)}>; rel="next"'
    body = page_type(items=[to_out(item) for item in page.items], next_cursor=cursor)
    return CachedResponse(encoder.encode(body), link=link)

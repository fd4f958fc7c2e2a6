"""Reading a JSON object body: size limit, media type, syntax, in that order."""

from __future__ import annotations

from typing import Any

import falcon
import msgspec

from entrypoints.media import decoder
from entrypoints.problems import Problem, invalid

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"


def read_object(
    req: falcon.Request, max_bytes: int, media_types: frozenset[str]
) -> dict[str, Any]:
    """The body as a dict, or the contract's 413, 415, 400 or 422 problem."""
    if req.content_length is not None and req.content_length > max_bytes:
        raise _too_large(max_bytes)
    media_type = (req.content_type or JSON).partition(";")[0].strip().lower()
    if media_type not in media_types:
        raise Problem(415, f"Send the body as {' or '.join(sorted(media_types))}.")
    raw = req.bounded_stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise _too_large(max_bytes)
    try:
        doc = decoder.decode(raw)
    except msgspec.DecodeError:
        raise Problem(400, "Request body is not valid JSON.") from None
    if not isinstance(doc, dict):
        raise invalid("Request body must be a JSON object.")
    return doc


def _too_large(max_bytes: int) -> Problem:
    return Problem(413, f"Request body is larger than {max_bytes} bytes.")


JSON_ONLY = frozenset({JSON})
JSON_OR_MERGE_PATCH = frozenset({JSON, MERGE_PATCH})

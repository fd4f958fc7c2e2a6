"""Reading a JSON object body: size limit, media type, syntax, in that order."""

from __future__ import annotations

from typing import Any

import falcon
import msgspec

from entrypoints.http.json_media import decoder
from entrypoints.http.problems import Problem, invalid

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
    raw = _stream(req).read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise _too_large(max_bytes)
    try:
        doc = decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise Problem(400, "Request body is not valid JSON in UTF-8.") from None
    except RecursionError:
        raise Problem(400, "Request body is nested too deeply.") from None
    if not isinstance(doc, dict):
        raise invalid("Request body must be a JSON object.")
    return doc


def _stream(req: falcon.Request) -> Any:
    """The body stream. A chunked body has no Content-Length; gunicorn marks
    its input as terminated, so reading it to the end is safe (and bounded by
    the caller). Falcon's bounded_stream would read nothing."""
    if req.content_length is None and req.env.get("wsgi.input_terminated"):
        return req.stream
    return req.bounded_stream


def _too_large(max_bytes: int) -> Problem:
    return Problem(413, f"Request body is larger than {max_bytes} bytes.")


JSON_ONLY = frozenset({JSON})
JSON_OR_MERGE_PATCH = frozenset({JSON, MERGE_PATCH})

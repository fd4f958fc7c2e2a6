"""ETags and the If-Match / If-None-Match preconditions (RFC 9110 section 13).

Falcon parses both headers (req.if_match, req.if_none_match). It reads an
unquoted tag as if it were quoted; a header it finds no tag in at all counts
here as one that matches nothing, never as an absent header."""

from __future__ import annotations

import falcon

from domain.model import Precondition
from entrypoints.http.converters import parse_number

_NOTHING = Precondition(versions=frozenset())


def etag(record_id: int, version: int) -> str:
    """Strong tag from id and version: it changes whenever the record does."""
    return f'"{record_id}-{version}"'


def if_match(req: falcon.Request, record_id: int) -> Precondition | None:
    """The If-Match header as a domain precondition; None when absent."""
    tags = req.if_match
    if tags is None:
        return None if req.get_header("If-Match") is None else _NOTHING
    if tags == ["*"]:
        return Precondition(any_version=True)
    prefix = f"{record_id}-"
    versions = set()
    for tag in tags:
        # Weak tags never match If-Match (strong comparison).
        if tag == "*" or tag.is_weak or not tag.startswith(prefix):
            continue
        version = parse_number(tag[len(prefix) :])
        if version is not None:
            versions.add(version)
    return Precondition(versions=frozenset(versions))


def none_match(req: falcon.Request, current: str) -> bool:
    """Whether If-None-Match says the client already has this representation."""
    tags = req.if_none_match
    if tags is None:
        return False
    if tags == ["*"]:
        return True
    opaque = current.strip('"')
    # Weak comparison, as RFC 9110 prescribes for If-None-Match.
    return any(tag == opaque for tag in tags)

"""ETags and the If-Match / If-None-Match preconditions (RFC 9110 section 13)."""

from __future__ import annotations

import re

import falcon

from domain.model import Precondition
from entrypoints.http.converters import parse_number

# One entity tag: optional weakness marker, then a quoted opaque string.
_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')


def etag(record_id: int, version: int) -> str:
    """Strong tag from id and version: it changes whenever the record does."""
    return f'"{record_id}-{version}"'


def _tags(header: str) -> list[tuple[bool, str]]:
    """(is_weak, opaque) for each well-formed tag in a list header."""
    return [(bool(m.group(1)), m.group(2)) for m in _TAG.finditer(header)]


def if_match(req: falcon.Request, record_id: int) -> Precondition | None:
    """The If-Match header as a domain precondition; None when absent."""
    header = req.get_header("If-Match")
    if header is None:
        return None
    if header.strip() == "*":
        return Precondition(any_version=True)
    versions = set()
    prefix = f"{record_id}-"
    for weak, opaque in _tags(header):
        # Weak tags never match If-Match (strong comparison).
        version = parse_number(opaque[len(prefix) :])
        if not weak and opaque.startswith(prefix) and version is not None:
            versions.add(version)
    return Precondition(versions=frozenset(versions))


def none_match(req: falcon.Request, current: str) -> bool:
    """Whether If-None-Match says the client already has this representation."""
    header = req.get_header("If-None-Match")
    if header is None:
        return False
    if header.strip() == "*":
        return True
    opaque = current.strip('"')
    # Weak comparison, as RFC 9110 prescribes for If-None-Match.
    return any(tag == opaque for _, tag in _tags(header))

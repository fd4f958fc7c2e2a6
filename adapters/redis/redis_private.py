"""Every private name of redis-py that the Redis adapters use, in one place.

The fast path (adapters/redis/fast_path.py) sends on a connection's socket
and parses replies with a hiredis reader of its own, turning error replies
into redis-py's exceptions as redis-py does; redis-py offers neither the
socket nor that mapping publicly. They are reached through the functions
here, and only here; PRIVATE_NAMES lists each, and a test checks them
against the installed redis-py, naming whichever an upgrade renamed or
removed.
"""

from __future__ import annotations

import socket
from typing import Any

from redis._parsers.base import BaseParser

# "module:attribute path"; an attribute a constructor sets counts as present.
PRIVATE_NAMES = (
    "redis._parsers.base:BaseParser.parse_error",
    "redis.connection:AbstractConnection._sock",
)


def error_reply(message: str) -> Exception:
    """The redis-py exception for an error reply (NoScriptError for NOSCRIPT,
    ResponseError for most), as its own parsers make it."""
    error: Exception = BaseParser.parse_error(message)  # type: ignore[no-untyped-call]
    return error


def socket_of(connection: Any) -> socket.socket | None:
    """The connected socket of a redis-py Connection; None before connect()."""
    sock: socket.socket | None = connection._sock
    return sock

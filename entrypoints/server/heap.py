"""The C heap of a serving process. glibc gives each thread that allocates
an arena of its own (up to eight a core) and keeps in it what a request
freed: a worker that served a few batches at once kept about 10 MB it no
longer used (bench/RESULTS.md, issue 24). Two arenas, and the heap trimmed
after each request with a large body, keep a worker near its idle size.
Without glibc (musl) both do nothing."""

from __future__ import annotations

import ctypes
import logging
from typing import Any

log = logging.getLogger(__name__)

ARENAS = 2
LARGE_BODY_BYTES = 64 * 1024  # the ordinary routes' default body limit
_M_ARENA_MAX = -8  # glibc's malloc.h

_mallopt: Any = None
_trim: Any = None
try:
    _libc = ctypes.CDLL(None)
    _mallopt, _trim = _libc.mallopt, _libc.malloc_trim
except (OSError, AttributeError):
    pass


def few_arenas() -> None:
    """Before the worker's threads start (or in gunicorn's master, before
    workers fork: they inherit it)."""
    if not few_arenas_taken():
        log.info("the C library takes no arena limit; left as it is")


def few_arenas_taken() -> bool:
    return _mallopt is not None and bool(_mallopt(_M_ARENA_MAX, ARENAS))


def trim_after(content_length: str | int | None) -> None:
    """After a request: give freed heap back to the system if its body was
    large (a batch); a few milliseconds, never on the ordinary requests."""
    try:
        large = int(content_length or 0) >= LARGE_BODY_BYTES
    except ValueError:
        return
    if large and _trim is not None:
        _trim(0)

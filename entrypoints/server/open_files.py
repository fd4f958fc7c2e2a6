"""How many client connections a worker may hold: the open-file limit, raised
to its hard limit at start, less what a worker needs besides its clients.

At the limit accept() fails (EMFILE) and gunicorn's gthread worker exits on
that, in a restart loop. With the headroom below kept free, a worker at its
cap still has descriptors to accept a connection and refuse it at once (503,
Retry-After), rather than leave it queued on its own listener while another
worker has room."""

from __future__ import annotations

import resource
from dataclasses import dataclass

from settings import Settings

# Listeners, the event loop's own descriptors, log, metrics and migration
# files, the thread pool's wake-up pipe, and connections being refused.
FIXED_HEADROOM = 96
MINIMUM_CONNECTIONS = 16


@dataclass(frozen=True, slots=True)
class OpenFiles:
    soft_limit: int  # now
    was: int  # before start raised it
    headroom: int  # kept for the database, Redis and the rest
    worker_connections: int


def raise_soft_limit() -> tuple[int, int]:
    """The soft open-file limit raised to the hard one where allowed: (before,
    after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
    if wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            return soft, soft
        return soft, wanted
    return soft, soft


def open_files(settings: Settings) -> OpenFiles:
    was, soft = raise_soft_limit()
    redis = settings.redis.max_connections if settings.redis else 0
    headroom = settings.pool.max_connections + redis + FIXED_HEADROOM
    connections = max(MINIMUM_CONNECTIONS, soft - headroom)
    return OpenFiles(soft, was, headroom, connections)

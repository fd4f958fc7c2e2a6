"""The change feed's upkeep in a serving process, in two background threads:

- the sweep: follows the feed and invalidates the cache entries of every
  change, so a change whose process died between its commit and its own
  invalidation is invalidated anyway, within SWEEP_BOUND_SECONDS;
- the pruner: removes changes older than CHANGES_RETENTION, in batches.

Each task runs in one process at a time (a lease in the database, so every
instance takes part and any can take over); the others wait their turn.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta

from domain.errors import StorageUnavailable
from domain.feed import Change, Resource
from domain.ports import Cache, CacheUnavailable
from domain.services import ChangeFeed
from entrypoints.http.metrics import Metrics
from entrypoints.http.response_cache import employee_key, manager_key

log = logging.getLogger(__name__)

SWEEP_EVERY_SECONDS = 0.5
LEASE_SECONDS = 2.0  # a holder that died is replaced after this
# A change is invalidated by the sweep at most this long after its commit:
# a lease to run out, then a step.
SWEEP_BOUND_SECONDS = LEASE_SECONDS + 2 * SWEEP_EVERY_SECONDS
SWEEP_BATCH = 1000
SWEEP_STEPS = 50  # full pages a tick at most (each step renews the lease)
PRUNE_EVERY_SECONDS = 60.0
PRUNE_BATCH = 1000
_ITEM_KEY = {Resource.EMPLOYEE: employee_key, Resource.MANAGER: manager_key}
_COLLECTION = {Resource.EMPLOYEE: "employees", Resource.MANAGER: "managers"}


def dependencies_of(changes: Sequence[Change]) -> list[str]:
    """The cache dependencies the changes make stale, each once."""
    found: dict[str, None] = {}
    for change in changes:
        found[_ITEM_KEY[change.resource](change.record_id)] = None
        found[_COLLECTION[change.resource]] = None
    return list(found)


class FeedKeeper:
    def __init__(
        self,
        feed: ChangeFeed,
        cache: Cache | None,
        retention_seconds: int,
        metrics: Metrics,
    ) -> None:
        """cache: the shared response cache, or None when there is none to
        keep (a process's own cache dies with the process)."""
        self._feed = feed
        self._cache = cache
        self._retention = timedelta(seconds=retention_seconds)
        self._metrics = metrics
        self._every = {"sweep": SWEEP_EVERY_SECONDS, "prune": PRUNE_EVERY_SECONDS}
        self.holder = (
            f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        )
        self.stopped = threading.Event()
        self._failing: dict[str, bool] = {}

    def start(self) -> None:
        tasks: dict[str, Callable[[], int | None]] = {"prune": self.prune_once}
        if self._cache is not None:
            tasks["sweep"] = self.sweep_once
        for name, step in tasks.items():
            threading.Thread(
                target=self._run, args=(name, step), name=f"feed-{name}", daemon=True
            ).start()

    def sweep_once(self) -> int | None:
        """The sweep's steps, back to back while they come full (so it keeps
        up with any write rate); how many changes it invalidated (None:
        another process holds the sweep)."""
        total: int | None = None
        for _ in range(SWEEP_STEPS):
            done = self._feed.follow(
                self.holder, LEASE_SECONDS, SWEEP_BATCH, self._invalidate
            )
            if done is None:
                break
            total = (total or 0) + done
            if done:
                self._metrics.feed_handled("sweep", done)
            if done < SWEEP_BATCH:
                break
        return total

    def prune_once(self) -> int | None:
        removed = self._feed.prune(
            self.holder, LEASE_SECONDS, self._retention, PRUNE_BATCH
        )
        if removed:
            self._metrics.feed_handled("prune", removed)
            log.info("pruned %d changes older than %s", removed, self._retention)
        return removed

    def _invalidate(self, changes: Sequence[Change]) -> None:
        assert self._cache is not None
        self._cache.invalidate(dependencies_of(changes))

    def _run(self, name: str, step: Callable[[], int | None]) -> None:
        while not self.stopped.wait(self._every[name]):
            try:
                step()
            except (StorageUnavailable, CacheUnavailable) as exc:
                # Counted and logged by the adapter; said here once per outage.
                if not self._failing.get(name):
                    log.warning("change feed %s paused: %s", name, exc)
                self._failing[name] = True
                continue
            except Exception:  # the thread must outlive any one failure
                log.exception("change feed %s failed", name)
                continue
            if self._failing.pop(name, False):
                log.info("change feed %s resumed", name)

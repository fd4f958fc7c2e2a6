"""Batches in work at once in a process, bounded. A batch decodes up to a
thousand records, and four at once in a worker raised its resident memory
by 10 MB, which stays (bench/RESULTS.md, issue 24); batch creation is bound
by the database, so taking turns costs little throughput."""

from __future__ import annotations

import threading
from typing import Any

import falcon

from entrypoints.http.batch import is_batch
from entrypoints.http.problems import unavailable

# How long a batch waits for its turn before it is answered 503: past this,
# the process is overwhelmed with batches and the client should back off.
TURN_WAIT_SECONDS = 10.0


class BatchGate:
    """Middleware, before the rate limiter (which reads a batch's body to
    count its items): at most `at_once` batch requests of this process past
    routing at a time; the others wait their turn, up to TURN_WAIT_SECONDS."""

    def __init__(self, at_once: int, wait_seconds: float = TURN_WAIT_SECONDS) -> None:
        self._turns = threading.BoundedSemaphore(at_once)
        self._wait_seconds = wait_seconds

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: Any
    ) -> None:
        if not is_batch(req):
            return
        if not self._turns.acquire(timeout=self._wait_seconds):
            raise unavailable("Too many batches in work here; retry shortly.")
        req.context.batch_turn = True

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, ok: bool
    ) -> None:
        if getattr(req.context, "batch_turn", False):
            req.context.batch_turn = False
            self._turns.release()

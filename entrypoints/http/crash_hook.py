"""A test hook, installed only with TEST_HOOKS=1: a write sent with
`X-Test-Crash: after-commit` kills its worker (SIGKILL, as the OOM killer
would) after the write committed and before its cache invalidation, the
window the change feed's sweep closes (entrypoints/http/feed_keeper.py)."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import falcon

_armed = threading.local()


class CrashHook:
    """Middleware: arms the crash for the request that asks for it."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        _armed.on = req.get_header("X-Test-Crash") == "after-commit"

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, ok: bool
    ) -> None:
        _armed.on = False


def crash_if_armed() -> None:
    """Die here if this thread's request asked to (never without the hook)."""
    if getattr(_armed, "on", False):
        os.kill(os.getpid(), signal.SIGKILL)

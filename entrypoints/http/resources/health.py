"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import falcon
from msgspec import Struct

from domain.ports import HealthCheck
from entrypoints.http.problems import unavailable


class Status(Struct, omit_defaults=True):
    """ "ok"; readiness adds each backend's state ("ok" or "degraded"), and
    for a degraded one, why, when known."""

    status: str
    checks: dict[str, str] | None = None
    reasons: dict[str, str] | None = None


class LiveResource:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = Status("ok")

    on_head = on_get


class ReadyResource:
    """Ready when the required checks pass; optional ones only report 'degraded'."""

    def __init__(
        self,
        required: Mapping[str, HealthCheck],
        optional: Mapping[str, HealthCheck],
        draining: Callable[[], bool],
    ) -> None:
        self._required = required
        self._optional = optional
        self._draining = draining

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self._draining():
            raise unavailable("Shutting down.")
        down = [
            f"{name} ({check.reason()})" if check.reason() else name
            for name, check in self._required.items()
            if not check.ping()
        ]
        if down:
            raise unavailable(f"Not answering: {', '.join(down)}.")
        checks = {name: "ok" for name in self._required}
        reasons: dict[str, str] = {}
        for name, check in self._optional.items():
            checks[name] = "ok" if check.ping() else "degraded"
            reason = check.reason() if checks[name] == "degraded" else None
            if reason:
                reasons[name] = reason
        resp.media = Status("ok", checks, reasons or None)

    on_head = on_get

"""Cross-cutting HTTP concerns that apply to every response."""

from __future__ import annotations

import re
from collections.abc import Collection
from random import getrandbits
from typing import Any

import falcon

_SANE_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")


class RequestId:
    """Echo a sane X-Request-ID, or make one; every response carries it."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        given = req.get_header("X-Request-ID")
        sane = given is not None and _SANE_REQUEST_ID.fullmatch(given)
        # 128 random bits, as a UUID4's hex without its version bits. Not
        # os.urandom: its system call lets go of the GIL, a thread hand-over
        # in a threaded worker. The ids need to be unique, not secret, and
        # random reseeds itself in every forked worker.
        req.context.request_id = given if sane else f"{getrandbits(128):032x}"

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, succeeded: bool
    ) -> None:
        if not hasattr(req.context, "request_id"):  # refused before routing
            self.process_request(req, resp)
        resp.set_header("X-Request-ID", req.context.request_id)


class SecurityHeaders:
    """nosniff on every response; no-store on every response that needs a key,
    so no shared cache keeps one client's data for another."""

    def __init__(self, exempt: Collection[str]) -> None:
        self._exempt = frozenset(exempt)

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, succeeded: bool
    ) -> None:
        resp.set_header("X-Content-Type-Options", "nosniff")
        if req.uri_template not in self._exempt:
            resp.set_header("Cache-Control", "no-store")
        if req.method == "OPTIONS" and resp.status_code == 200:
            _answer_options(resp)


def _answer_options(resp: falcon.Response) -> None:
    """Falcon's default OPTIONS answer is a 200 with a JSON type and no body,
    and an Allow without OPTIONS: make it a plain 204 that lists OPTIONS."""
    resp.status = 204
    resp.content_type = None
    allowed = resp.get_header("Allow")
    if allowed is not None and "OPTIONS" not in allowed:
        resp.set_header("Allow", f"{allowed}, OPTIONS")

"""Idempotency-Key on POST: a retry gets the first answer again, never a twin.

A responder claims the key before it acts (`replayed`); this middleware then
stores the answer, unless it is a 5xx or a 429, which a retry should redo.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import falcon
import msgspec

from domain.errors import FieldError
from domain.ports import (
    ClaimState,
    IdempotencyStore,
    IdempotencyUnavailable,
    StoredResponse,
)
from entrypoints.http.auth import Identity
from entrypoints.http.problems import Problem, invalid, unavailable

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
KEEP_SECONDS = 24 * 3600
# A claim whose process died lapses after this, and a retry runs afresh. A
# request bounded by the statement timeout (5 s by default) ends long before;
# with DB_STATEMENT_TIMEOUT_MS=0 a request running past it could be repeated.
PENDING_SECONDS = 120
_SANE_KEY = re.compile(r"[\x20-\x7e]{1,255}")
_REPLAYED_HEADERS = ("Location", "ETag")
# Sorted keys: "the same body" means equal JSON after parsing, whatever the order.
_canonical = msgspec.json.Encoder(order="sorted")


class Idempotency:
    def __init__(
        self,
        store: IdempotencyStore,
        identify: Callable[[falcon.Request], Identity],
    ) -> None:
        self._store = store
        self._identify = identify

    def replayed(
        self, req: falcon.Request, resp: falcon.Response, body: dict[str, Any]
    ) -> bool:
        """Claim the request's key; True when resp now holds the stored answer."""
        given = req.get_header(HEADER)
        if given is None:
            return False
        if not _SANE_KEY.fullmatch(given):
            raise Problem(400, f"{HEADER} must be 1-255 printable ASCII characters.")
        key = self._scope(req, given)
        fingerprint = hashlib.sha256(_canonical.encode(body)).hexdigest()
        try:
            claim = self._store.claim(key, fingerprint, PENDING_SECONDS)
        except IdempotencyUnavailable:
            raise unavailable(f"{HEADER} cannot be checked right now.") from None
        if claim.state is ClaimState.IN_FLIGHT:
            raise Problem(409, f"A request with this {HEADER} is still in progress.")
        if claim.state is ClaimState.MISMATCH:
            mismatch = FieldError(HEADER, "already used with a different request body")
            raise invalid(f"This {HEADER} was used for another request.", [mismatch])
        if claim.state is ClaimState.DONE and claim.response is not None:
            _replay(resp, claim.response)
            return True
        req.context.idempotency = (key, claim.token, fingerprint)
        return False

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, ok: bool
    ) -> None:
        claimed: tuple[str, str, str] | None = getattr(req.context, "idempotency", None)
        if claimed is None:
            return
        key, token, fingerprint = claimed
        status = resp.status_code
        if status >= 500 or status == 429:
            with suppress(IdempotencyUnavailable):  # else it lapses by itself
                self._store.release(key, token)
            return
        stored = StoredResponse(status, resp.data or b"", _headers_of(resp))
        for _ in range(2):  # once more: an unstored answer lets a retry repeat it
            with suppress(IdempotencyUnavailable):
                self._store.complete(key, token, fingerprint, stored, KEEP_SECONDS)
                return
        log.warning("could not store the answer to an %s; it lapses unstored", HEADER)

    def _scope(self, req: falcon.Request, given: str) -> str:
        """Per client, per endpoint: one client's keys never meet another's."""
        client = self._identify(req).scope
        scope = f"{client}\n{req.method} {req.uri_template}\n{given}"
        return hashlib.sha256(scope.encode()).hexdigest()


def _headers_of(resp: falcon.Response) -> tuple[tuple[str, str], ...]:
    headers = [("Content-Type", resp.content_type or falcon.MEDIA_JSON)]
    for name in _REPLAYED_HEADERS:
        value = resp.get_header(name)
        if value is not None:
            headers.append((name, value))
    return tuple(headers)


def _replay(resp: falcon.Response, stored: StoredResponse) -> None:
    resp.status = stored.status
    resp.data = stored.body
    for name, value in stored.headers:
        resp.set_header(name, value)
    resp.set_header("Idempotent-Replayed", "true")

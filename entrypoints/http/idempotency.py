"""Idempotency-Key on POST: a retry gets the first answer again, never a twin.

A responder claims the key before it acts (`replayed`); this middleware then
stores the answer, unless it is a 5xx or a 429, which a retry should redo.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
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
_SANE_KEY = re.compile(r"[\x20-\x7e]{1,255}")
_REPLAYED_HEADERS = ("Location", "ETag")
# Sorted keys: "the same body" means equal JSON after parsing, whatever the order.
_canonical = msgspec.json.Encoder(order="sorted")


class Idempotency:
    def __init__(
        self,
        store: IdempotencyStore,
        identify: Callable[[falcon.Request], Identity],
        claim_seconds: int = 120,
    ) -> None:
        """claim_seconds: how long the claim of a process that died holds the
        key; a running request's claim is renewed, however long it runs."""
        self._store = store
        self._identify = identify
        self._pending = claim_seconds
        self._keeper = ClaimKeeper(store, claim_seconds)

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
            claim = self._store.claim(key, fingerprint, self._pending)
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
        self._keeper.hold(key, claim.token)
        return False

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, ok: bool
    ) -> None:
        claimed: tuple[str, str, str] | None = getattr(req.context, "idempotency", None)
        if claimed is None:
            return
        key, token, fingerprint = claimed
        self._keeper.let_go(key)
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


class ClaimKeeper:
    """Renews the claims of the requests this process is still running, every
    third of their lifetime: a claim lapses only once its process has died,
    never under a request that runs long (a slow statement, with
    DB_STATEMENT_TIMEOUT_MS=0 unbounded), where a retry would repeat it."""

    def __init__(self, store: IdempotencyStore, claim_seconds: int) -> None:
        self._store = store
        self._seconds = claim_seconds
        self._lock = threading.Lock()
        self._held: dict[str, str] = {}  # key -> the claim's token
        self._running = False

    def hold(self, key: str, token: str) -> None:
        with self._lock:
            self._held[key] = token
            if not self._running:  # on first use: in the serving process
                self._running = True
                threading.Thread(target=self._renew, name="claims", daemon=True).start()

    def let_go(self, key: str) -> None:
        with self._lock:
            self._held.pop(key, None)

    def _renew(self) -> None:
        pause = threading.Event()
        while True:
            pause.wait(self._seconds / 3)  # paced: renewals, not a wait on anyone
            with self._lock:
                held = list(self._held.items())
            for key, token in held:
                with suppress(IdempotencyUnavailable):  # the breaker logs it
                    self._store.renew(key, token, self._seconds)

"""Who a request comes from (an API key, else its address) and what it may do."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import falcon

from domain.api_keys import ApiKey, Scope
from domain.services import ApiKeyService
from entrypoints.http.client_address import ClientAddress, bucket
from entrypoints.http.lookup_allowance import LookupAllowance
from entrypoints.http.problems import Problem

# The contract: read is GET (and HEAD, GET without the body); everything
# else, OPTIONS included, needs write.
READ_METHODS = frozenset({"GET", "HEAD"})
_CHALLENGE = 'Bearer realm="employee-api"'


@dataclass(frozen=True, slots=True)
class Identity:
    client: str  # whom the rate limit counts: "key:<id>" or "ip:<bucket>"
    key: ApiKey | None = None
    refusal: Problem | None = None  # why the credentials sent are not accepted
    address: str = ""  # the exact client address, when there is no valid key

    @property
    def scope(self) -> str:
        """Whose idempotency keys these are: the API key, else the exact
        address (an IPv6 client's rate-limit bucket is its whole /64)."""
        return self.client if self.key is not None else f"addr:{self.address}"


class Authenticator:
    """Identifies each request once (the result is kept on req.context).

    keys=None means auth is off: every request is its client address."""

    def __init__(
        self,
        keys: ApiKeyService | None,
        client_address: ClientAddress,
        lookups: LookupAllowance | None = None,
    ) -> None:
        self._keys = keys
        self._client_address = client_address
        self._lookups = lookups

    @property
    def enabled(self) -> bool:
        return self._keys is not None

    def identify(self, req: falcon.Request) -> Identity:
        known: Identity | None = getattr(req.context, "identity", None)
        if known is None:
            known = req.context.identity = self._identify(req)
        return known

    def by_address(
        self, req: falcon.Request, refusal: Problem | None = None
    ) -> Identity:
        """The request as its address alone (no valid key, or none checkable)."""
        address = self._client_address.exact(req)
        return Identity(f"ip:{bucket(address)}", refusal=refusal, address=address)

    def _identify(self, req: falcon.Request) -> Identity:
        key, refusal = self._key_of(req)
        if key is not None:
            return Identity(f"key:{key.id}", key)
        # Only a request without a valid key is its address (parsed per call).
        return self.by_address(req, refusal)

    def _before_lookup(self, req: falcon.Request) -> Callable[[], None] | None:
        if self._lookups is None:
            return None
        return _spend_lookup(self._lookups, self._client_address, req)

    def _key_of(self, req: falcon.Request) -> tuple[ApiKey | None, Problem | None]:
        """The request's valid key, or why there is none (None when auth is off)."""
        if self._keys is None:
            return None, None
        header = req.get_header("Authorization")
        if header is None:
            return None, _unauthorized("Send an API key.")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            malformed = "Send the API key as: Bearer <key>."
            return None, _unauthorized(malformed, "invalid_request")
        key = self._keys.authenticate(token.strip(), self._before_lookup(req))
        if key is None:
            unknown = "The API key is unknown or revoked."
            return None, _unauthorized(unknown, "invalid_token")
        return key, None


def _spend_lookup(
    lookups: LookupAllowance, address: ClientAddress, req: falcon.Request
) -> Callable[[], None]:
    return lambda: lookups.spend(address(req))


def _unauthorized(detail: str, error: str | None = None) -> Problem:
    challenge = f'{_CHALLENGE}, error="{error}"' if error else _CHALLENGE
    return Problem(401, detail, headers={"WWW-Authenticate": challenge})


class Authorize:
    """Middleware: a route that needs a key gets 401 without a valid one, and
    403 when the key lacks the method's scope. Runs after the rate limiter, so
    refused requests still count against their client's address."""

    def __init__(self, authenticator: Authenticator, exempt: Collection[str]) -> None:
        self._authenticator = authenticator
        self._exempt = frozenset(exempt)

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: Any
    ) -> None:
        if not self._authenticator.enabled or req.uri_template in self._exempt:
            return
        identity = self._authenticator.identify(req)
        if identity.refusal is not None:
            raise identity.refusal
        scope = Scope.READ if req.method in READ_METHODS else Scope.WRITE
        if identity.key is None or not identity.key.allows(scope):
            raise Problem(403, f"This API key lacks the {scope} scope.")

"""Idempotency records on Redis, shared by every instance: one hash a key,
claimed and completed by scripts, so two instances never both own a key."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import redis

from adapters.breaker import BreakerOpen, CircuitBreaker
from adapters.redis.client import new_token
from adapters.redis.lane import Lane
from domain.ports import Claim, ClaimState, IdempotencyUnavailable, StoredResponse

# Own the key if nobody does; else report what holds it.
_CLAIM = """
local held = redis.call('HMGET', KEYS[1], 'fingerprint', 'status', 'body', 'headers')
if not held[1] then
  redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'token', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {1}
end
return {0, held[1], held[2] or '', held[3] or '', held[4] or ''}
"""

# Store the answer, only while this request still owns the key.
_COMPLETE = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'body', ARGV[3], 'headers', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""

# Give the key up, only if it is ours and unanswered.
_RELEASE = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
if redis.call('HEXISTS', KEYS[1], 'status') == 1 then return 0 end
return redis.call('DEL', KEYS[1])
"""

# Hold the key longer, only if it is ours and unanswered.
_RENEW = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
if redis.call('HEXISTS', KEYS[1], 'status') == 1 then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""


class RedisIdempotencyStore:
    def __init__(
        self, lane: Lane, breaker: CircuitBreaker, prefix: str = "ema:idem:"
    ) -> None:
        self._claim = lane.script(_CLAIM)
        self._complete = lane.script(_COMPLETE)
        self._release = lane.script(_RELEASE)
        self._renew = lane.script(_RENEW)
        self._breaker = breaker
        self._prefix = prefix

    def claim(self, key: str, fingerprint: str, pending_seconds: int) -> Claim:
        token = new_token()
        args: list[Any] = [fingerprint, token, pending_seconds * 1000]
        held = self._run(lambda: self._claim([self._prefix + key], args, again=False))
        if held[0] == 1:
            return Claim(ClaimState.OWNED, token=token)
        stored_fingerprint, status, body, headers = held[1:]
        response = None
        if status:
            pairs = json.loads(headers)
            response = StoredResponse(int(status), body, tuple(map(tuple, pairs)))
        return Claim.of_taken_key(stored_fingerprint.decode(), response, fingerprint)

    def complete(
        self,
        key: str,
        token: str,
        fingerprint: str,
        response: StoredResponse,
        keep_seconds: int,
    ) -> None:
        headers = json.dumps(response.headers)
        args: list[Any] = [
            token,
            response.status,
            response.body,
            headers,
            keep_seconds * 1000,
        ]
        self._run(lambda: self._complete([self._prefix + key], args, again=False))

    def release(self, key: str, token: str) -> None:
        self._run(lambda: self._release([self._prefix + key], [token], again=False))

    def renew(self, key: str, token: str, pending_seconds: int) -> bool:
        args: list[Any] = [token, pending_seconds * 1000]
        return bool(
            self._run(lambda: self._renew([self._prefix + key], args, again=False))
        )

    def _run(self, operation: Callable[[], Any]) -> Any:
        try:
            return self._breaker.call(operation)
        except (BreakerOpen, redis.RedisError) as exc:
            raise IdempotencyUnavailable() from exc
